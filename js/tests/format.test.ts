import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { formatDuration, formatOffset, truncate } from "../src/format";
import { ganttRows, GANTT_MAX_ROWS } from "../src/gantt";
import { DagModel } from "../src/model";
import type { GraphJob } from "../src/protocol";

test("durations are written as the kernel's views write them", () => {
  // the cases that tests/test_format.py checks against nbjobs' own format_duration
  const cases = JSON.parse(
    readFileSync(new URL("../tests/durations.json", import.meta.url), "utf-8"),
  ) as [number | null, string][];
  for (const [seconds, text] of cases) {
    assert.equal(formatDuration(seconds), seconds === null ? "–" : text, String(seconds));
  }
  assert.equal(formatOffset(12.5, 10), "+2.50s");
  assert.equal(formatOffset(null, 10), "–");
});

test("truncate cuts on characters, not UTF-16 halves", () => {
  assert.equal(truncate("short", 10), "short");
  assert.equal(truncate("abcdefghij", 5), "abcd…");
  assert.equal(truncate("🙂🙂🙂🙂", 3), "🙂🙂…");
});

function job(id: number): GraphJob {
  return { id, label: `job ${id}`, critical: false, forever: false, parent: null, requires: [], scheduler: false };
}

test("the timeline orders jobs by when they queued and bounds the rows", () => {
  const m = new DagModel();
  const n = GANTT_MAX_ROWS + 5;
  m.setGraph({ label: "", dot: "", mode: "full", leaves: n, jobs: Array.from({ length: n }, (_, i) => job(i + 1)) });
  const rows: [number, "succeeded", number, number, number][] = [];
  for (let i = 1; i <= n; i++) {
    // queued in reverse id order; each waits 1 s then runs 2 s
    rows.push([i, "succeeded", (1000 - i) * 1e6, (1001 - i) * 1e6, (1003 - i) * 1e6]);
  }
  m.applySnapshot({ seq: 0, now: 2000e6, jobs: rows, stats: { counts: {}, total: n, running: 0, waiting: 0, elapsed: 1, started: true, finished: true, outcome: "success" } }, 0);
  const g = ganttRows(m, 2000);
  assert.equal(g.rows.length, GANTT_MAX_ROWS);
  assert.equal(g.hidden, 5);
  assert.equal(g.rows[0].id, n);
  assert.equal(g.t0, 1000 - n);
  assert.equal(g.t1, 1002);
});

test("a job that is still running stretches the timeline to now", () => {
  const m = new DagModel();
  m.setGraph({ label: "", dot: "", mode: "full", leaves: 2, jobs: [job(1), job(2)] });
  m.applySnapshot({ seq: 0, now: 0, jobs: [[1, "running", 5e6, 6e6, null], [2, "idle", null, null, null]], stats: { counts: {}, total: 2, running: 1, waiting: 0, elapsed: 1, started: true, finished: false, outcome: null } }, 0);
  const g = ganttRows(m, 9);
  assert.deepEqual(g.rows.map((r) => r.id), [1]);
  assert.equal(g.t0, 5);
  assert.equal(g.t1, 9);
});
