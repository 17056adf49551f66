// The messages and traits shared with nbjobs/_widget/widget.py. Keep both sides in step.

export const STATES = [
  "idle",
  "waiting",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
] as const;
export type State = (typeof STATES)[number];

export const DONE_STATES: ReadonlySet<string> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
]);

/** One job of the graph, as the `graph` trait describes it. */
export interface GraphJob {
  id: number;
  label: string;
  critical: boolean;
  forever: boolean;
  /** id of the nested scheduler holding this job, null at top level */
  parent: number | null;
  requires: number[];
  /** the jobs among `requires` whose results this job takes as arguments */
  data?: number[];
  /** a nested scheduler is itself a job; its jobs have it as parent */
  scheduler: boolean;
}

/**
 * "full": every job drawn and described; "collapsed": nested schedulers drawn as single
 * nodes; "list": too big to draw. Past "full", only the nodes drawn are described (the top
 * level when collapsed, none in list mode): the page asks for the rows its list and
 * timeline show (a `query` message, answered by `rows`), and deltas carry the counts
 * (per collapsed scheduler in `stats.groups`) and the states of the nodes drawn.
 */
export type GraphMode = "full" | "collapsed" | "list";

/** What the list shows: running and failed jobs with their neighbours, all, or one state. */
export type ListFilter = "attention" | "all" | State;

/** The `graph` trait: the structure, re-sent only when it changes. */
/**
 * The `graph` trait as sent: the jobs column by column (smaller JSON than one object per
 * job, and cheaper to build in the kernel); `decodeGraph` rebuilds the objects.
 */
export interface GraphColumns {
  id: number[];
  label: string[];
  critical: number[];
  forever: number[];
  parent: (number | null)[];
  requires: number[][];
  /** 0 for a job taking no job's result */
  data: (number[] | 0)[];
  scheduler: number[];
}

export interface GraphTrait extends Omit<GraphSpec, "jobs"> {
  jobs: GraphColumns;
}

/** The `graph` trait with one object per job. */
export function decodeGraph(trait: GraphTrait): GraphSpec {
  const c = trait.jobs;
  const jobs: GraphJob[] = c.id.map((id, i) => {
    const data = c.data[i];
    return {
      id,
      label: c.label[i],
      critical: c.critical[i] === 1,
      forever: c.forever[i] === 1,
      parent: c.parent[i],
      requires: c.requires[i],
      data: data === 0 ? [] : data,
      scheduler: c.scheduler[i] === 1,
    };
  });
  return { label: trait.label, jobs, dot: trait.dot, mode: trait.mode, leaves: trait.leaves };
}

export interface GraphSpec {
  label: string;
  jobs: GraphJob[];
  /** DOT text to lay out; empty when the graph is too big to draw */
  dot: string;
  mode: GraphMode;
  /** number of leaf jobs (nested schedulers not counted) */
  leaves: number;
}

/**
 * [id, state, ready_time, start_time, end_time]. Times in the kernel's messages are whole
 * microseconds after the widget's origin on the kernel loop's clock (integers serialise
 * faster than floats); DagModel keeps them in seconds.
 */
export type JobRow = [number, State, number | null, number | null, number | null];

export interface RunStats {
  counts: Partial<Record<State, number>>;
  total: number;
  running: number;
  waiting: number;
  elapsed: number | null;
  started: boolean;
  finished: boolean;
  outcome: string | null;
  /** collapsed mode: leaf jobs per state inside each collapsed scheduler, by its id */
  groups?: Record<string, Partial<Record<State, number>>>;
}

/**
 * The `snapshot` trait and the `snapshot` message: every job's state at time `now` (in
 * list mode only the jobs a panel shows, and the default list's answer).
 */
export interface Snapshot {
  seq: number;
  /** microseconds, as the row times */
  now: number;
  jobs: JobRow[];
  stats: RunStats;
  list?: Answer;
}

/** [id, label, state, ready, start, end, parent]: a job as an answer describes it. */
export type AnswerRow = [number, string, State, number | null, number | null, number | null, number | null];

export type QueryView = "list" | "timeline";

/** The rows a query asked for (at most its limit) and how many jobs match. */
export interface Answer {
  view: QueryView;
  filter: ListFilter;
  search: string;
  total: number;
  rows: AnswerRow[];
  /** what answering cost the kernel, in milliseconds: the page asks less often when high */
  cost_ms?: number;
}

export interface RowsMsg extends Answer {
  type: "rows";
  id: number;
}

/** [job id, stream, text] */
export type OutputRow = [number, string, string];

export interface DeltaMsg {
  type: "delta";
  seq: number;
  now: number;
  jobs: JobRow[];
  stats: RunStats;
  output: OutputRow[];
}

export interface SnapshotMsg extends Snapshot {
  type: "snapshot";
}

export interface JobDetail {
  id: number;
  label: string;
  state: State;
  critical: boolean;
  forever: boolean;
  scheduler: boolean;
  /** microseconds, as the row times */
  ready: number | null;
  start: number | null;
  end: number | null;
  /** seconds */
  duration: number | null;
  attempts: number | null;
  /** where the body ran (an executor's worker), null on the kernel's loop */
  where: string | null;
  /** the web page of the engine it ran on (an http(s) address), if any */
  dashboard: string | null;
  requires: [number, string][];
  result: string | null;
  exception: string | null;
  traceback: string | null;
  cancel_reason: string | null;
  skip_reason: string | null;
  output: [string, string][];
  /** true when older output was dropped to bound the message */
  output_truncated: boolean;
}

export interface DetailMsg {
  type: "detail";
  id: number;
  job: number;
  detail: JobDetail;
}

export interface AckMsg {
  type: "ack";
  id: number;
}

export interface ErrorMsg {
  type: "error";
  id: number | null;
  message: string;
  /** the run shown is gone (its scheduler was freed): the view keeps its last state */
  gone: boolean;
}

export type KernelMsg = DeltaMsg | SnapshotMsg | DetailMsg | AckMsg | ErrorMsg | RowsMsg;

export type ViewMsg =
  | { type: "hello" }
  | { type: "cancel"; id: number }
  | { type: "cancel_job"; id: number; job: number }
  | { type: "detail"; id: number; job: number }
  | { type: "unwatch"; job: number }
  | { type: "query"; id: number; view: QueryView; filter: ListFilter; search: string; limit: number };
