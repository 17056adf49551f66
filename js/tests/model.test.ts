import assert from "node:assert/strict";
import { test } from "node:test";
import { DagModel, outputByJob } from "../src/model";
import type { DeltaMsg, GraphSpec, RunStats, Snapshot } from "../src/protocol";
import { decodeGraph } from "../src/protocol";

const stats = (over: Partial<RunStats> = {}): RunStats => ({
  counts: {},
  total: 4,
  running: 0,
  waiting: 0,
  elapsed: null,
  started: false,
  finished: false,
  outcome: null,
  ...over,
});

// a -> b -> c, and d alone
const GRAPH: GraphSpec = {
  label: "g",
  dot: "digraph {}",
  mode: "full",
  leaves: 4,
  jobs: [
    { id: 1, label: "a", critical: true, forever: false, parent: null, requires: [], scheduler: false },
    { id: 2, label: "b", critical: true, forever: false, parent: null, requires: [1], scheduler: false },
    { id: 3, label: "c", critical: true, forever: false, parent: null, requires: [2], scheduler: false },
    { id: 4, label: "Delta", critical: true, forever: false, parent: null, requires: [], scheduler: false },
  ],
};

function model(): DagModel {
  const m = new DagModel();
  m.setGraph(GRAPH);
  const snap: Snapshot = { seq: 3, now: 100e6, jobs: [], stats: stats() };
  assert.equal(m.applySnapshot(snap, 10), true);
  return m;
}

function delta(seq: number, rows: DeltaMsg["jobs"], over: Partial<RunStats> = {}): DeltaMsg {
  return { type: "delta", seq, now: 101e6, jobs: rows, stats: stats(over), output: [] };
}

test("jobs start idle and deltas change only what they carry", () => {
  const m = model();
  assert.deepEqual([1, 2, 3, 4].map((id) => m.stateOf(id)), ["idle", "idle", "idle", "idle"]);
  // times arrive in microseconds and are kept in seconds
  const changed = m.applyDelta(delta(4, [[1, "running", 100e6, 100.5e6, null]]), 11);
  assert.deepEqual(changed, [1]);
  assert.equal(m.stateOf(1), "running");
  assert.deepEqual(m.states.get(1), { state: "running", ready: 100, start: 100.5, end: null });
  // same state again (times only): not a change to redraw
  assert.deepEqual(m.applyDelta(delta(5, [[1, "running", 100e6, 100.5e6, null]]), 11), []);
});

test("a missed delta asks for a snapshot; an old one is ignored", () => {
  const m = model();
  assert.equal(m.applyDelta(delta(5, [[1, "running", 1, 1, null]]), 11), null);
  assert.equal(m.stateOf(1), "idle");
  assert.deepEqual(m.applyDelta(delta(3, [[1, "failed", 1, 1, 2]]), 11), []);
  assert.equal(m.stateOf(1), "idle");
  // an older snapshot does not undo newer deltas
  m.applyDelta(delta(4, [[1, "succeeded", 1, 1, 2]]), 11);
  assert.equal(m.applySnapshot({ seq: 2, now: 0, jobs: [[1, "idle", null, null, null]], stats: stats() }, 12), false);
  assert.equal(m.stateOf(1), "succeeded");
});

test("the kernel clock is estimated from the last message", () => {
  const m = model(); // now=100 at local 10
  assert.equal(m.kernelNow(12), 102);
  m.applyDelta(delta(4, []), 20); // now=101 at local 20
  assert.equal(m.kernelNow(21), 102);
});

test("elapsed time moves on while the run goes on, and stops at its end", () => {
  const m = model();
  m.applyDelta(delta(4, [], { started: true, elapsed: 2 }), 50);
  assert.equal(m.elapsed(53), 5);
  m.applyDelta(delta(5, [], { started: true, finished: true, elapsed: 4 }), 60);
  assert.equal(m.elapsed(90), 4);
});

test("progress counts every ending", () => {
  const m = model();
  m.applyDelta(delta(4, [], { counts: { succeeded: 1, failed: 1, cancelled: 1, running: 1 } }), 1);
  assert.deepEqual(m.progress(), { done: 3, total: 4 });
});

test("the attention filter keeps running and failed jobs and their neighbours", () => {
  const m = model();
  assert.deepEqual(m.filter("attention", ""), []);
  m.applyDelta(delta(4, [[2, "running", 1, 1, null]]), 1);
  assert.deepEqual(m.filter("attention", ""), [1, 2, 3]);
  assert.deepEqual(m.filter("all", ""), [1, 2, 3, 4]);
  assert.deepEqual(m.filter("running", ""), [2]);
  assert.deepEqual(m.filter("idle", ""), [1, 3, 4]);
  assert.deepEqual(m.filter("all", "DEL"), [4]);
  assert.deepEqual(m.filter("all", "3"), [3]);
  assert.deepEqual(m.neighbours(2), [1, 3]);
});

test("output rows are grouped by job in order", () => {
  const grouped = outputByJob([
    [1, "stdout", "a"],
    [2, "stderr", "b"],
    [1, "log", "c"],
  ]);
  assert.deepEqual([...grouped.entries()], [
    [1, [["stdout", "a"], ["log", "c"]]],
    [2, [["stderr", "b"]]],
  ]);
});

test("the graph trait's columns decode into one object per job", () => {
  const spec = decodeGraph({
    label: "top",
    dot: "digraph {}",
    mode: "full",
    leaves: 2,
    jobs: {
      id: [1, 2, 3],
      label: ["a", "<b>", "inner"],
      critical: [1, 0, 0],
      forever: [0, 1, 0],
      parent: [null, 3, null],
      requires: [[], [1], [1]],
      data: [0, [1], 0],
      scheduler: [0, 0, 1],
    },
  });
  assert.deepEqual(spec.jobs, [
    { id: 1, label: "a", critical: true, forever: false, parent: null, requires: [], data: [], scheduler: false },
    { id: 2, label: "<b>", critical: false, forever: true, parent: 3, requires: [1], data: [1], scheduler: false },
    { id: 3, label: "inner", critical: false, forever: false, parent: null, requires: [1], data: [], scheduler: true },
  ]);
  assert.equal(spec.mode, "full");
  assert.equal(spec.leaves, 2);
  assert.equal(spec.dot, "digraph {}");
});
