// The timeline: one row per job that has started or queued, the wait for a window slot
// (ready -> start) drawn apart from the run (start -> end).

import { h, replaceChildren, s } from "./dom";
import { formatDuration, truncate } from "./format";
import type { DagModel } from "./model";

/** Rows drawn at most; a big run shows its earliest jobs and says how many are left out. */
export const GANTT_MAX_ROWS = 300;
const ROW = 16;
const LABEL_WIDTH = 170;
const AXIS = 20;

export interface GanttRow {
  id: number;
  ready: number | null;
  start: number | null;
  end: number | null;
}

/**
 * The rows to draw and the time span they cover, ordered by when each job queued or
 * started; pure, so node's tests can check it.
 */
export function ganttRows(
  model: DagModel,
  kernelNow: number | null,
): { rows: GanttRow[]; hidden: number; t0: number; t1: number } {
  const all: GanttRow[] = [];
  // list mode: the jobs the kernel answered with (the earliest ones, already in order)
  const answer = model.lazy ? model.answers.get("timeline") : undefined;
  const ids = answer !== undefined ? answer.rows.map((r) => r[0]) : model.graph.jobs.filter((j) => !j.scheduler).map((j) => j.id);
  for (const id of ids) {
    const st = model.states.get(id);
    if (st === undefined || (st.ready === null && st.start === null)) continue;
    all.push({ id, ready: st.ready, start: st.start, end: st.end });
  }
  const key = (r: GanttRow): number => r.ready ?? r.start ?? 0;
  all.sort((a, b) => key(a) - key(b) || a.id - b.id);
  const rows = all.slice(0, GANTT_MAX_ROWS);
  const untold = answer !== undefined ? Math.max(0, answer.total - answer.rows.length) : 0;
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const r of all) {
    t0 = Math.min(t0, r.ready ?? Infinity, r.start ?? Infinity);
    t1 = Math.max(t1, r.end ?? -Infinity, r.start ?? -Infinity, r.ready ?? -Infinity);
    if (r.end === null && kernelNow !== null) t1 = Math.max(t1, kernelNow);
  }
  if (!Number.isFinite(t0)) {
    t0 = 0;
    t1 = 1;
  }
  if (t1 - t0 < 1e-3) t1 = t0 + 1e-3;
  return { rows, hidden: all.length - rows.length + untold, t0, t1 };
}

export class GanttView {
  readonly el: HTMLDivElement;

  constructor(
    private readonly model: DagModel,
    private readonly onSelect: (id: number) => void,
  ) {
    this.el = h("div", { class: "nbjobs-gantt" });
  }

  render(kernelNow: number | null): void {
    const { rows, hidden, t0, t1 } = ganttRows(this.model, kernelNow);
    if (rows.length === 0) {
      const asking = this.model.lazy && !this.model.answers.has("timeline");
      replaceChildren(
        this.el,
        h("div", { class: "nbjobs-empty" }, asking ? "Asking the kernel for the timeline…" : "No job has started yet."),
      );
      return;
    }
    const width = Math.max(this.el.clientWidth || 700, LABEL_WIDTH + 200);
    const plot = width - LABEL_WIDTH - 10;
    const x = (t: number): number => LABEL_WIDTH + ((t - t0) / (t1 - t0)) * plot;
    const height = AXIS + rows.length * ROW + 4;
    const svg = s("svg", { class: "nbjobs-gantt-svg", width, height });
    // axis: five ticks, times since the first job queued
    for (let i = 0; i <= 4; i++) {
      const t = t0 + ((t1 - t0) * i) / 4;
      const tx = x(t);
      svg.append(
        s("line", { class: "nbjobs-gantt-tick", x1: tx, x2: tx, y1: AXIS - 4, y2: height }),
        s(
          "text",
          { class: "nbjobs-gantt-axis", x: tx, y: AXIS - 7, "text-anchor": i === 4 ? "end" : "middle" },
          formatDuration(t - t0),
        ),
      );
    }
    rows.forEach((r, i) => {
      const y = AXIS + i * ROW;
      const job = this.model.byId.get(r.id);
      const label = job?.label ?? `#${r.id}`;
      const state = this.model.stateOf(r.id);
      const row = s("g", { class: "nbjobs-gantt-row", "data-gantt-job": r.id, "data-state": state });
      row.append(
        s("title", {}, label),
        s("text", { class: "nbjobs-gantt-label", x: 4, y: y + ROW - 4 }, truncate(label, 26)),
      );
      const waitEnd = r.start ?? (state === "waiting" ? kernelNow : r.end);
      if (r.ready !== null && waitEnd !== null && waitEnd > r.ready) {
        row.append(
          s("rect", {
            class: "nbjobs-gantt-wait",
            x: x(r.ready),
            y: y + 3,
            width: Math.max(1, x(waitEnd) - x(r.ready)),
            height: ROW - 6,
          }),
        );
      }
      const runEnd = r.end ?? kernelNow;
      if (r.start !== null && runEnd !== null) {
        row.append(
          s("rect", {
            class: "nbjobs-gantt-run",
            x: x(r.start),
            y: y + 2,
            width: Math.max(1.5, x(runEnd) - x(r.start)),
            height: ROW - 4,
          }),
        );
      }
      row.addEventListener("click", () => this.onSelect(r.id));
      svg.append(row);
    });
    const children: Node[] = [svg];
    if (hidden > 0) {
      children.push(
        h("div", { class: "nbjobs-note" }, `${hidden} more jobs not drawn (first ${rows.length} shown).`),
      );
    }
    replaceChildren(this.el, ...children);
  }
}
