// The view's copy of the run: structure from the `graph` trait, states from snapshots and
// deltas. Pure (no DOM), so node's test runner covers it.

import type {
  Answer,
  DeltaMsg,
  GraphJob,
  GraphSpec,
  JobRow,
  ListFilter,
  OutputRow,
  QueryView,
  RunStats,
  Snapshot,
  State,
} from "./protocol";

/** A job's state and times, in seconds on the kernel's clock (from the widget's origin). */
export interface JobState {
  state: State;
  ready: number | null;
  start: number | null;
  end: number | null;
}

export type { ListFilter };

const EMPTY_STATS: RunStats = {
  counts: {},
  total: 0,
  running: 0,
  waiting: 0,
  elapsed: null,
  started: false,
  finished: false,
  outcome: null,
};

export class DagModel {
  graph: GraphSpec = { label: "", jobs: [], dot: "", mode: "full", leaves: 0 };
  readonly byId = new Map<number, GraphJob>();
  readonly dependents = new Map<number, number[]>();
  readonly states = new Map<number, JobState>();
  stats: RunStats = EMPTY_STATS;
  /** sequence number of the last snapshot or delta applied; -1 before any */
  seq = -1;
  /** kernel clock minus local clock (seconds), from the latest message */
  private offset: number | null = null;
  /** local time (s) when the latest stats arrived, to extrapolate the elapsed time */
  private statsAt = 0;
  /** in list mode, the latest answer for each view that asks (see `lazy`) */
  readonly answers = new Map<QueryView, Answer>();

  /** True when not every job is described up front: the list and the timeline ask. */
  get lazy(): boolean {
    return this.graph.mode !== "full";
  }

  setGraph(graph: GraphSpec): void {
    this.graph = graph;
    this.byId.clear();
    this.dependents.clear();
    this.answers.clear();
    for (const job of graph.jobs) {
      this.byId.set(job.id, job);
    }
    for (const job of graph.jobs) {
      for (const req of job.requires) {
        let list = this.dependents.get(req);
        if (list === undefined) {
          list = [];
          this.dependents.set(req, list);
        }
        list.push(job.id);
      }
    }
    // a job new to the graph starts idle until a snapshot says otherwise
    for (const job of graph.jobs) {
      if (!this.states.has(job.id)) {
        this.states.set(job.id, { state: "idle", ready: null, start: null, end: null });
      }
    }
  }

  /** Apply a full snapshot; returns false when it is older than what is shown. */
  applySnapshot(snap: Snapshot, localNow: number): boolean {
    if (snap.seq < this.seq) {
      return false;
    }
    this.seq = snap.seq;
    this.setClock(snap.now, localNow);
    this.applyRows(snap.jobs);
    this.setStats(snap.stats, localNow);
    if (snap.list !== undefined && this.lazy) {
      this.applyAnswer(snap.list);
    }
    return true;
  }

  /**
   * Keep an answer to a query (list mode): its jobs become known by label and state, for
   * the panel and the views. Returns the ids whose state changed.
   */
  applyAnswer(answer: Answer): number[] {
    this.answers.set(answer.view, answer);
    const changed: number[] = [];
    for (const [id, label, state, ready, start, end, parent] of answer.rows) {
      if (!this.byId.has(id) || this.byId.get(id)?.label !== label) {
        this.byId.set(id, { id, label, critical: false, forever: false, parent, requires: [], scheduler: false });
      }
      const old = this.states.get(id);
      if (old === undefined || old.state !== state) {
        changed.push(id);
      }
      this.states.set(id, { state, ready: seconds(ready), start: seconds(start), end: seconds(end) });
    }
    return changed;
  }

  /**
   * Apply a delta. Returns the ids whose state changed, or null when the delta cannot be
   * applied because deltas were missed (the caller then asks for a snapshot).
   */
  applyDelta(delta: DeltaMsg, localNow: number): number[] | null {
    if (delta.seq <= this.seq) {
      return []; // already covered by a newer snapshot
    }
    if (delta.seq !== this.seq + 1) {
      return null;
    }
    this.seq = delta.seq;
    this.setClock(delta.now, localNow);
    const changed = this.applyRows(delta.jobs);
    this.setStats(delta.stats, localNow);
    return changed;
  }

  private applyRows(rows: JobRow[]): number[] {
    const changed: number[] = [];
    for (const [id, state, ready, start, end] of rows) {
      const old = this.states.get(id);
      if (old === undefined || old.state !== state) {
        changed.push(id);
      }
      this.states.set(id, { state, ready: seconds(ready), start: seconds(start), end: seconds(end) });
    }
    return changed;
  }

  private setClock(kernelNowMicros: number, localNow: number): void {
    this.offset = kernelNowMicros / 1e6 - localNow;
  }

  private setStats(stats: RunStats, localNow: number): void {
    this.stats = stats;
    this.statsAt = localNow;
  }

  /** The kernel clock now, estimated from the local clock; null before any message. */
  kernelNow(localNow: number): number | null {
    return this.offset === null ? null : localNow + this.offset;
  }

  /** Seconds since the run started, extrapolated between messages while it runs. */
  elapsed(localNow: number): number | null {
    const { elapsed, started, finished } = this.stats;
    if (elapsed === null) {
      return null;
    }
    if (started && !finished) {
      return elapsed + Math.max(0, localNow - this.statsAt);
    }
    return elapsed;
  }

  stateOf(id: number): State {
    return this.states.get(id)?.state ?? "idle";
  }

  /** Done and total leaf jobs, for the progress bar. */
  progress(): { done: number; total: number } {
    const c = this.stats.counts;
    const done = (c.succeeded ?? 0) + (c.failed ?? 0) + (c.cancelled ?? 0) + (c.skipped ?? 0);
    return { done, total: this.stats.total };
  }

  /** Jobs that a job requires and jobs that require it. */
  neighbours(id: number): number[] {
    return [...(this.byId.get(id)?.requires ?? []), ...(this.dependents.get(id) ?? [])];
  }

  /**
   * The ids the list view shows, in graph order. "attention" keeps running and failed jobs
   * and their neighbours: where a user looks first in a big run.
   */
  filter(kind: ListFilter, text: string): number[] {
    const needle = text.trim().toLowerCase();
    let keep: Set<number> | null = null;
    if (kind === "attention") {
      keep = new Set();
      for (const [id, st] of this.states) {
        if (st.state === "running" || st.state === "failed") {
          keep.add(id);
          for (const n of this.neighbours(id)) {
            keep.add(n);
          }
        }
      }
    }
    const out: number[] = [];
    for (const job of this.graph.jobs) {
      if (keep !== null && !keep.has(job.id)) {
        continue;
      }
      if (kind !== "attention" && kind !== "all" && this.stateOf(job.id) !== kind) {
        continue;
      }
      if (
        needle !== "" &&
        !job.label.toLowerCase().includes(needle) &&
        String(job.id) !== needle
      ) {
        continue;
      }
      out.push(job.id);
    }
    return out;
  }
}

/** Microseconds from the kernel to seconds; null stays null. */
export function seconds(micros: number | null): number | null {
  return micros === null ? null : micros / 1e6;
}

/** Group output rows by job, keeping their order. */
export function outputByJob(rows: OutputRow[]): Map<number, [string, string][]> {
  const byJob = new Map<number, [string, string][]>();
  for (const [id, stream, text] of rows) {
    let list = byJob.get(id);
    if (list === undefined) {
      list = [];
      byJob.set(id, list);
    }
    list.push([stream, text]);
  }
  return byJob;
}
