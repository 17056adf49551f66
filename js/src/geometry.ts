// Turn Graphviz's `json0` output (positions without drawing operations: a quarter of the
// size of `json`, and half the layout time) into the little the view draws: boxes, cluster
// frames and edge paths, in SVG coordinates (y down). Runs in the layout worker, so only
// plain data crosses to the page; job text never goes through Graphviz's renderer.

export interface NodeBox {
  id: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface ClusterBox {
  id: number;
  x: number;
  y: number;
  w: number;
  h: number;
  /** label position (centre of the text baseline) */
  lx: number;
  ly: number;
}

export interface EdgePath {
  tail: number;
  head: number;
  /** SVG path data of the spline */
  d: string;
  /** arrowhead polygons, each a flat list x0 y0 x1 y1 ... */
  arrows: number[][];
}

export interface Geometry {
  width: number;
  height: number;
  nodes: NodeBox[];
  clusters: ClusterBox[];
  edges: EdgePath[];
}

interface GvObject {
  _gvid?: number;
  name: string;
  pos?: string;
  width?: string;
  height?: string;
  bb?: string;
  lp?: string;
}

interface GvEdge {
  tail: number;
  head: number;
  /** the spline: "[s,x,y ][e,x,y ]x1,y1 x2,y2 ..." (3n+1 B-spline control points) */
  pos?: string;
  arrowsize?: string;
}

export interface GvJson {
  bb?: string;
  objects?: GvObject[];
  edges?: GvEdge[];
}

const POINTS_PER_INCH = 72;

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

function numbers(text: string | undefined): number[] {
  if (text === undefined || text === "") {
    return [];
  }
  return text.split(",").map(Number);
}

/** "j12" -> 12, "cluster_j12" -> 12; null for any other name. */
export function jobIdOf(name: string): number | null {
  const m = /^(?:cluster_)?j(\d+)$/.exec(name);
  return m === null ? null : Number(m[1]);
}

interface Spline {
  start: [number, number] | null;
  end: [number, number] | null;
  points: [number, number][];
}

/** Parse an edge's `pos`; several splines (rare: edge concentrators) keep the first. */
export function parseSpline(pos: string): Spline {
  const first = pos.split(";")[0];
  const out: Spline = { start: null, end: null, points: [] };
  for (const token of first.trim().split(/\s+/)) {
    const parts = token.split(",");
    if (parts[0] === "e" || parts[0] === "s") {
      const xy: [number, number] = [Number(parts[1]), Number(parts[2])];
      if (parts[0] === "e") out.end = xy;
      else out.start = xy;
    } else if (parts.length === 2) {
      out.points.push([Number(parts[0]), Number(parts[1])]);
    }
  }
  return out;
}

/** A filled triangle from the spline's end `base` to the arrow's tip, as Graphviz draws. */
function arrowhead(base: [number, number], tip: [number, number]): number[] {
  const dx = tip[0] - base[0];
  const dy = tip[1] - base[1];
  // Graphviz's "normal" arrow is 0.35 times as wide (each side) as it is long
  const nx = -dy * 0.35;
  const ny = dx * 0.35;
  return [tip[0], tip[1], round(base[0] + nx), round(base[1] + ny), round(base[0] - nx), round(base[1] - ny)];
}

export function geometryFromJson(gv: GvJson): Geometry {
  const bb = numbers(gv.bb);
  const x0 = bb[0] ?? 0;
  const y0 = bb[1] ?? 0;
  const width = round((bb[2] ?? 0) - x0);
  const height = round((bb[3] ?? 0) - y0);
  // Graphviz puts y up; SVG puts it down
  const px = (x: number): number => round(x - x0);
  const py = (y: number): number => round(height - (y - y0));

  const nodes: NodeBox[] = [];
  const clusters: ClusterBox[] = [];
  const nameOfGvid = new Map<number, number>();
  for (const obj of gv.objects ?? []) {
    const id = jobIdOf(obj.name);
    if (id === null) {
      continue;
    }
    if (obj.name.startsWith("cluster_")) {
      const [cx0 = 0, cy0 = 0, cx1 = 0, cy1 = 0] = numbers(obj.bb);
      const [lx = (cx0 + cx1) / 2, ly = cy1] = numbers(obj.lp);
      clusters.push({
        id,
        x: px(cx0),
        y: py(cy1),
        w: round(cx1 - cx0),
        h: round(cy1 - cy0),
        lx: px(lx),
        ly: py(ly),
      });
      continue;
    }
    if (obj._gvid !== undefined) {
      nameOfGvid.set(obj._gvid, id);
    }
    const [x = 0, y = 0] = numbers(obj.pos);
    nodes.push({
      id,
      x: px(x),
      y: py(y),
      w: round(Number(obj.width ?? 0) * POINTS_PER_INCH),
      h: round(Number(obj.height ?? 0) * POINTS_PER_INCH),
    });
  }

  const edges: EdgePath[] = [];
  for (const edge of gv.edges ?? []) {
    const tail = nameOfGvid.get(edge.tail);
    const head = nameOfGvid.get(edge.head);
    if (tail === undefined || head === undefined || edge.pos === undefined) {
      continue;
    }
    const spline = parseSpline(edge.pos);
    if (spline.points.length === 0) {
      continue;
    }
    const pts = spline.points.map(([x, y]): [number, number] => [px(x), py(y)]);
    let d = `M${pts[0][0]},${pts[0][1]}`;
    for (let i = 1; i + 2 < pts.length; i += 3) {
      d += `C${pts[i][0]},${pts[i][1]} ${pts[i + 1][0]},${pts[i + 1][1]} ${pts[i + 2][0]},${pts[i + 2][1]}`;
    }
    const arrows: number[][] = [];
    if (spline.end !== null) {
      arrows.push(arrowhead(pts[pts.length - 1], [px(spline.end[0]), py(spline.end[1])]));
    }
    if (spline.start !== null) {
      arrows.push(arrowhead(pts[0], [px(spline.start[0]), py(spline.start[1])]));
    }
    edges.push({ tail, head, d, arrows });
  }
  return { width, height, nodes, clusters, edges };
}
