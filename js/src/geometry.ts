// Turn Graphviz's `json` output into the little the view draws: boxes, cluster frames and
// edge paths, in SVG coordinates (y down). Runs in the layout worker, so only plain data
// crosses to the page; job text never goes through Graphviz's renderer.

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

interface GvOp {
  op: string;
  points?: [number, number][];
}

interface GvObject {
  _gvid?: number;
  name: string;
  pos?: string;
  width?: string;
  height?: string;
  bb?: string;
  lp?: string;
  nodes?: number[];
}

interface GvEdge {
  tail: number;
  head: number;
  _draw_?: GvOp[];
  _hdraw_?: GvOp[];
  _tdraw_?: GvOp[];
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
    if (tail === undefined || head === undefined) {
      continue;
    }
    let d = "";
    for (const op of edge._draw_ ?? []) {
      if ((op.op === "b" || op.op === "B") && op.points !== undefined && op.points.length > 0) {
        const [first, ...rest] = op.points;
        d += `M${px(first[0])},${py(first[1])}`;
        for (let i = 0; i + 2 < rest.length; i += 3) {
          d += `C${px(rest[i][0])},${py(rest[i][1])} ${px(rest[i + 1][0])},${py(rest[i + 1][1])} ${px(rest[i + 2][0])},${py(rest[i + 2][1])}`;
        }
      } else if (op.op === "L" && op.points !== undefined && op.points.length > 0) {
        d += op.points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${px(x)},${py(y)}`).join("");
      }
    }
    const arrows: number[][] = [];
    for (const op of [...(edge._hdraw_ ?? []), ...(edge._tdraw_ ?? [])]) {
      if ((op.op === "P" || op.op === "p") && op.points !== undefined) {
        arrows.push(op.points.flatMap(([x, y]) => [px(x), py(y)]));
      }
    }
    edges.push({ tail, head, d, arrows });
  }
  return { width, height, nodes, clusters, edges };
}
