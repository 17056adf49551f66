import assert from "node:assert/strict";
import { test } from "node:test";
import { geometryFromJson, jobIdOf, parseSpline } from "../src/geometry";
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

test("edge splines parse with their arrowheads", () => {
  assert.deepEqual(parseSpline("e,43,52.1 43,87.7 43,80 43,70.7 43,62.1"), {
    start: null,
    end: [43, 52.1],
    points: [
      [43, 87.7],
      [43, 80],
      [43, 70.7],
      [43, 62.1],
    ],
  });
  assert.deepEqual(parseSpline("s,1,2 e,9,9 1,1 2,2 3,3 4,4;5,5 6,6 7,7 8,8").start, [1, 2]);
  const g = geometryFromJson({
    bb: "0,0,100,100",
    objects: [
      { _gvid: 0, name: "j1", pos: "50,90", width: "1", height: "0.2" },
      { _gvid: 1, name: "j2", pos: "50,10", width: "1", height: "0.2" },
    ],
    edges: [{ tail: 0, head: 1, pos: "e,50,20 50,80 50,60 50,40 50,30" }],
  });
  // y flipped: from the top node (y=10) down to the bottom one (y=90)
  assert.equal(g.edges[0].d, "M50,20C50,40 50,60 50,70");
  // tip at the bottom node's top edge, base 10 above it, 3.5 each side
  assert.deepEqual(g.edges[0].arrows, [[50, 80, 46.5, 70, 53.5, 70]]);
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
    edges: [{ tail: 0, head: 1, pos: "e,3,3 0,0 1,1 2,2 2.5,2.5" }],
  });
  assert.deepEqual(g.nodes, [{ id: 9, x: 50, y: 25, w: 72, h: 36 }]);
  assert.deepEqual(g.edges, []);
  assert.equal(g.width, 100);
  assert.equal(g.height, 50);
});
