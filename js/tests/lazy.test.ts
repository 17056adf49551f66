// List mode: the views show the kernel's answers, and the Querier paces the questions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ganttRows } from "../src/gantt";
import { DagModel } from "../src/model";
import type { Answer, RunStats } from "../src/protocol";
import { MIN_SPACING_MS, Querier } from "../src/querier";

const STATS: RunStats = {
  counts: { running: 1 },
  total: 5000,
  running: 1,
  waiting: 0,
  elapsed: 1,
  started: true,
  finished: false,
  outcome: null,
};

function lazyModel(): DagModel {
  const m = new DagModel();
  m.setGraph({ label: "big", jobs: [], dot: "", mode: "list", leaves: 5000 });
  return m;
}

test("an answer makes its jobs known by label and state", () => {
  const m = lazyModel();
  assert.equal(m.lazy, true);
  const answer: Answer = {
    view: "list",
    filter: "attention",
    search: "",
    total: 2,
    rows: [
      [10, "ten", "running", 1e6, 2e6, null, null],
      [11, "eleven", "idle", null, null, null, 7],
    ],
  };
  assert.deepEqual(m.applyAnswer(answer), [10, 11]);
  assert.equal(m.byId.get(10)?.label, "ten");
  assert.equal(m.byId.get(11)?.parent, 7);
  assert.deepEqual(m.states.get(10), { state: "running", ready: 1, start: 2, end: null });
  assert.equal(m.answers.get("list"), answer);
  // the same states again: nothing to redraw
  assert.deepEqual(m.applyAnswer(answer), []);
  // a snapshot's default list is applied as an answer; a new structure forgets answers
  m.applySnapshot({ seq: 1, now: 0, jobs: [], stats: STATS, list: { ...answer, rows: [[12, "x", "failed", 0, 0, 1, null]] } }, 0);
  assert.equal(m.stateOf(12), "failed");
  m.setGraph({ label: "big", jobs: [], dot: "", mode: "list", leaves: 5000 });
  assert.equal(m.answers.size, 0);
});

test("the timeline of a big run draws the answered rows and counts the others", () => {
  const m = lazyModel();
  m.applyAnswer({
    view: "timeline",
    filter: "all",
    search: "",
    total: 4000,
    rows: [
      [1, "a", "succeeded", 0, 0, 1e6, null],
      [2, "b", "running", 0, 5e5, null, null],
    ],
  });
  const g = ganttRows(m, 2);
  assert.deepEqual(
    g.rows.map((r) => r.id),
    [1, 2],
  );
  assert.equal(g.hidden, 3998);
  assert.equal(g.t1, 2);
});

function fakeClock(): {
  now: () => number;
  schedule: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  unschedule: (t: ReturnType<typeof setTimeout>) => void;
  advance: (ms: number) => void;
} {
  let t = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 1;
  return {
    now: () => t,
    schedule: (fn, ms) => {
      const id = next++;
      timers.push({ at: t + ms, fn, id });
      return id as unknown as ReturnType<typeof setTimeout>;
    },
    unschedule: (id) => {
      timers = timers.filter((x) => x.id !== (id as unknown as number));
    },
    advance: (ms) => {
      t += ms;
      const due = timers.filter((x) => x.at <= t);
      timers = timers.filter((x) => x.at > t);
      for (const x of due) x.fn();
    },
  };
}

test("one question in flight per view; one asked meanwhile goes when the answer comes", () => {
  const clock = fakeClock();
  const sent: string[] = [];
  let id = 0;
  const q = new Querier((view) => (sent.push(view), ++id), clock.now, clock.schedule, clock.unschedule);
  q.ask("list");
  q.ask("list");
  q.ask("list");
  q.ask("timeline");
  assert.deepEqual(sent, ["list", "timeline"]);
  assert.equal(q.waiting("list"), true);
  q.answered(1, 0);
  // the questions asked meanwhile make one, spaced from the first
  assert.deepEqual(sent, ["list", "timeline"]);
  clock.advance(MIN_SPACING_MS);
  assert.deepEqual(sent, ["list", "timeline", "list"]);
  // an error answers a question too
  q.answered(3);
  assert.equal(q.waiting("list"), false);
});

test("the run's progress prompts questions at most once per spacing, longer when costly", () => {
  const clock = fakeClock();
  const sent: number[] = [];
  let id = 0;
  const q = new Querier(() => (sent.push(clock.now()), ++id), clock.now, clock.schedule, clock.unschedule);
  q.refresh("list"); // the first goes at once
  q.answered(1, 0);
  for (let i = 0; i < 20; i++) {
    clock.advance(50); // a delta every 50 ms
    q.refresh("list");
    if (q.waiting("list")) q.answered(id, 0);
  }
  assert.deepEqual(sent, [0, 250, 500, 750, 1000]);
  // an answer that cost the kernel 100 ms: the next question waits ten times as long
  clock.advance(250);
  q.refresh("list");
  q.answered(id, 100);
  const before = sent.length;
  for (let i = 0; i < 19; i++) {
    clock.advance(50);
    q.refresh("list");
  }
  assert.equal(sent.length, before);
  clock.advance(50);
  assert.equal(sent.length, before + 1);
  q.dispose();
});
