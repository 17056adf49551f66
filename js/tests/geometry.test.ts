import assert from "node:assert/strict";
import { test } from "node:test";
import { geometryFromJson, jobIdOf } from "../src/geometry";
import { layout } from "../src/worker";

const DOT = `digraph nbjobs {
compound=true; rankdir=TB;
node [shape=box, fontname="Helvetica", fontsize=12];
j1 [label="a <img src=x onerror=alert(1)>"];
subgraph cluster_j2 {
label="inner";
j3 [label="b"];
j4 [label="c"];
j3 -> j4;
}
j5 [label="d"];
j1 -> j3 [lhead=cluster_j2];
j4 -> j5 [ltail=cluster_j2];
}`;

test("job ids come from node and cluster names", () => {
  assert.equal(jobIdOf("j12"), 12);
  assert.equal(jobIdOf("cluster_j7"), 7);
  assert.equal(jobIdOf("x12"), null);
  assert.equal(jobIdOf("j12x"), null);
});

test("Graphviz lays out nodes, clusters and clipped edges in SVG coordinates", async () => {
  const g = await layout(DOT);
  assert.deepEqual(
    g.nodes.map((n) => n.id),
    [1, 3, 4, 5],
  );
  assert.deepEqual(
    g.clusters.map((c) => c.id),
    [2],
  );
  assert.deepEqual(
    g.edges.map((e) => [e.tail, e.head]),
    [
      [3, 4],
      [1, 3],
      [4, 5],
    ],
  );
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  // top to bottom: y grows downwards in SVG
  assert.ok(byId.get(1)!.y < byId.get(3)!.y);
  assert.ok(byId.get(3)!.y < byId.get(4)!.y);
  assert.ok(byId.get(4)!.y < byId.get(5)!.y);
  for (const n of g.nodes) {
    assert.ok(n.x - n.w / 2 >= -0.5 && n.x + n.w / 2 <= g.width + 0.5, `node ${n.id} in width`);
    assert.ok(n.y - n.h / 2 >= -0.5 && n.y + n.h / 2 <= g.height + 0.5, `node ${n.id} in height`);
  }
  // the cluster frames b and c, and not a or d
  const c = g.clusters[0];
  for (const id of [3, 4]) {
    const n = byId.get(id)!;
    assert.ok(n.x > c.x && n.x < c.x + c.w && n.y > c.y && n.y < c.y + c.h);
  }
  for (const id of [1, 5]) {
    const n = byId.get(id)!;
    assert.ok(!(n.y > c.y && n.y < c.y + c.h));
  }
  // each edge is a cubic spline with an arrowhead
  for (const e of g.edges) {
    assert.match(e.d, /^M[\d.]+,[\d.]+(C[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+)+$/);
    assert.equal(e.arrows.length, 1);
    assert.ok(e.arrows[0].length >= 6);
  }
  // an edge into a cluster stops at its frame (lhead): above the frame's top
  const into = g.edges.find((e) => e.tail === 1)!;
  const endY = Number(/,([\d.]+)$/.exec(into.d)![1]);
  assert.ok(endY <= c.y + 1, `edge ends at ${endY}, frame top ${c.y}`);
});

test("an empty graph has no geometry", async () => {
  const g = await layout("digraph {}");
  assert.deepEqual([g.nodes, g.edges, g.clusters], [[], [], []]);
});

test("geometry ignores objects that are not jobs", () => {
  const g = geometryFromJson({
    bb: "0,0,100,50",
    objects: [
      { _gvid: 0, name: "other", pos: "10,10", width: "1", height: "0.5" },
      { _gvid: 1, name: "j9", pos: "50,25", width: "1", height: "0.5" },
    ],
    edges: [{ tail: 0, head: 1, _draw_: [{ op: "b", points: [[0, 0], [1, 1], [2, 2], [3, 3]] }] }],
  });
  assert.deepEqual(g.nodes, [{ id: 9, x: 50, y: 25, w: 72, h: 36 }]);
  assert.deepEqual(g.edges, []);
  assert.equal(g.width, 100);
  assert.equal(g.height, 50);
});
