// The DAG drawing: an SVG built from the layout geometry. A state change sets data-state on
// one node (CSS does the colour); only a new structure is laid out and drawn again.

import { h, replaceChildren, s } from "./dom";
import { formatDuration, truncate } from "./format";
import type { Geometry } from "./geometry";
import type { DagModel } from "./model";
import { DONE_STATES, type State } from "./protocol";

/** Past this many nodes, running nodes do not pulse: the animation costs frames. */
const ANIMATE_MAX = 200;
/** Labels longer than this are cut in the drawing (the panel shows them whole). */
export const NODE_LABEL_MAX = 40;
const MAX_HEIGHT = 560;
const MIN_SCALE = 0.05;
const MAX_SCALE = 4;

interface Transform {
  x: number;
  y: number;
  k: number;
}

export class GraphView {
  readonly el: HTMLDivElement;
  private readonly svg: SVGSVGElement;
  private readonly viewport: SVGGElement;
  private readonly message: HTMLDivElement;
  private readonly nodes = new Map<number, SVGGElement>();
  private readonly clusters = new Map<number, SVGGElement>();
  private readonly clocks = new Map<number, SVGTextElement>();
  /** collapsed nested schedulers: their node shows counts of the jobs inside */
  private readonly countTexts = new Map<number, SVGTextElement>();
  private geometry: Geometry | null = null;
  private t: Transform = { x: 0, y: 0, k: 1 };
  private selected: number | null = null;
  private dragged = false;
  /** once the user zooms or pans, resizing the page no longer refits the graph */
  private userMoved = false;
  private resizes: ResizeObserver | null = null;

  constructor(
    private readonly model: DagModel,
    private readonly onSelect: (id: number) => void,
  ) {
    this.viewport = s("g", { class: "nbjobs-viewport" });
    this.svg = s("svg", { class: "nbjobs-svg", role: "img" }, this.viewport);
    this.message = h("div", { class: "nbjobs-graph-message" });
    const zoomIn = h("button", { type: "button", title: "Zoom in" }, "+");
    const zoomOut = h("button", { type: "button", title: "Zoom out" }, "−");
    const fit = h("button", { type: "button", title: "Fit the graph" }, "Fit");
    zoomIn.addEventListener("click", () => this.zoomBy(1.25));
    zoomOut.addEventListener("click", () => this.zoomBy(0.8));
    fit.addEventListener("click", () => {
      this.userMoved = false;
      this.fit();
    });
    const tools = h("div", { class: "nbjobs-zoom" }, zoomIn, zoomOut, fit);
    this.el = h("div", { class: "nbjobs-graph" }, tools, this.message, this.svg);
    this.installPanZoom();
    if (typeof ResizeObserver !== "undefined") {
      this.resizes = new ResizeObserver(() => {
        if (!this.userMoved) this.fit();
      });
      this.resizes.observe(this.el);
    }
  }

  dispose(): void {
    this.resizes?.disconnect();
  }

  get nodeCount(): number {
    return this.nodes.size;
  }

  showMessage(text: string): void {
    this.message.textContent = text;
    this.message.hidden = text === "";
  }

  clear(): void {
    replaceChildren(this.viewport);
    this.nodes.clear();
    this.clusters.clear();
    this.clocks.clear();
    this.countTexts.clear();
    this.geometry = null;
    this.svg.setAttribute("height", "0");
  }

  draw(geometry: Geometry): void {
    this.clear();
    this.geometry = geometry;
    const model = this.model;
    const collapsed = model.graph.mode === "collapsed";
    const clusterLayer = s("g", { class: "nbjobs-clusters" });
    const edgeLayer = s("g", { class: "nbjobs-edges" });
    const nodeLayer = s("g", { class: "nbjobs-nodes" });
    // one listener for all nodes: a thousand nodes, a thousand closures saved
    const nodeOf = (target: EventTarget | null): number | null => {
      const g = target instanceof Element ? target.closest(".nbjobs-node") : null;
      const id = g?.getAttribute("data-job-id");
      return id == null ? null : Number(id);
    };
    nodeLayer.addEventListener("click", (ev) => {
      const id = nodeOf(ev.target);
      if (id !== null && !this.dragged) this.onSelect(id);
    });
    nodeLayer.addEventListener("keydown", (ev) => {
      const id = nodeOf(ev.target);
      if (id !== null && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        this.onSelect(id);
      }
    });

    for (const c of geometry.clusters) {
      const job = model.byId.get(c.id);
      const label = job?.label ?? `#${c.id}`;
      const g = s(
        "g",
        {
          class: `nbjobs-cluster${job?.critical ? " critical" : ""}${job?.forever ? " forever" : ""}`,
          "data-cluster-id": c.id,
          "data-state": model.stateOf(c.id),
          transform: `translate(${c.x},${c.y})`,
        },
        s("title", {}, label),
        s("rect", { width: c.w, height: c.h, rx: 6 }),
        s(
          "text",
          { x: c.lx - c.x, y: c.ly - c.y, "text-anchor": "middle" },
          truncate(label, NODE_LABEL_MAX),
        ),
      );
      g.addEventListener("click", (ev) => {
        if (ev.target === g.querySelector("text") && !this.dragged) {
          this.onSelect(c.id);
        }
      });
      this.clusters.set(c.id, g);
      clusterLayer.append(g);
    }

    for (const e of geometry.edges) {
      // an edge that carries a result (Job(fn, other_job)) is drawn apart from a plain
      // requirement
      const carries = model.byId.get(e.head)?.data?.includes(e.tail) ?? false;
      const g = s("g", {
        class: carries ? "nbjobs-edge data" : "nbjobs-edge",
        "data-tail": e.tail,
        "data-head": e.head,
      });
      g.append(s("path", { d: e.d }));
      for (const arrow of e.arrows) {
        const points: string[] = [];
        for (let i = 0; i + 1 < arrow.length; i += 2) {
          points.push(`${arrow[i]},${arrow[i + 1]}`);
        }
        g.append(s("polygon", { points: points.join(" ") }));
      }
      edgeLayer.append(g);
    }

    for (const n of geometry.nodes) {
      const job = model.byId.get(n.id);
      const label = job?.label ?? `#${n.id}`;
      const classes = ["nbjobs-node"];
      if (job?.critical) classes.push("critical");
      if (job?.forever) classes.push("forever");
      if (job?.scheduler) classes.push("scheduler");
      const g = s(
        "g",
        {
          class: classes.join(" "),
          "data-job-id": n.id,
          "data-state": model.stateOf(n.id),
          transform: `translate(${n.x - n.w / 2},${n.y - n.h / 2})`,
          tabindex: 0,
          role: "button",
          "aria-label": label,
        },
        s("title", {}, label),
        s("rect", { width: n.w, height: n.h, rx: 4 }),
      );
      const text = s(
        "text",
        { class: "nbjobs-node-label", x: n.w / 2, y: n.h / 2, "text-anchor": "middle" },
        truncate(label, NODE_LABEL_MAX),
      );
      g.append(text);
      if (collapsed && job?.scheduler) {
        text.setAttribute("y", String(n.h / 2 - 6));
        const counts = s("text", {
          class: "nbjobs-node-counts",
          x: n.w / 2,
          y: n.h / 2 + 8,
          "text-anchor": "middle",
        });
        g.append(counts);
        this.countTexts.set(n.id, counts);
      }
      this.nodes.set(n.id, g);
      nodeLayer.append(g);
    }
    this.viewport.append(clusterLayer, edgeLayer, nodeLayer);
    this.el.classList.toggle("nbjobs-animate", geometry.nodes.length <= ANIMATE_MAX);
    this.updateCounts();
    if (this.selected !== null) {
      this.select(this.selected);
    }
    this.userMoved = false;
    this.fit();
  }

  /** Recolour the given jobs (and nested schedulers) in place. */
  setStates(ids: Iterable<number>): void {
    for (const id of ids) {
      const state = this.model.stateOf(id);
      const node = this.nodes.get(id);
      if (node !== undefined) {
        node.setAttribute("data-state", state);
        if (DONE_STATES.has(state) || state === "idle") {
          const clock = this.clocks.get(id);
          if (clock !== undefined) clock.textContent = "";
        }
      }
      const cluster = this.clusters.get(id);
      if (cluster !== undefined) {
        cluster.setAttribute("data-state", state);
      }
    }
    this.updateCounts();
  }

  setAllStates(): void {
    this.setStates([...this.nodes.keys(), ...this.clusters.keys()]);
  }

  /** Show the elapsed time on running nodes (the clock text is made on first need). */
  tick(kernelNow: number | null): void {
    if (kernelNow === null) {
      return;
    }
    for (const [id, node] of this.nodes) {
      const st = this.model.states.get(id);
      if (st?.state !== "running" || st.start === null) continue;
      let clock = this.clocks.get(id);
      if (clock === undefined) {
        const rect = node.querySelector("rect");
        const w = Number(rect?.getAttribute("width") ?? 0);
        const h = Number(rect?.getAttribute("height") ?? 0);
        // under the box: inside, it would cover a short label
        clock = s("text", { class: "nbjobs-node-clock", x: w / 2, y: h + 10, "text-anchor": "middle" });
        node.append(clock);
        this.clocks.set(id, clock);
      }
      clock.textContent = formatDuration(kernelNow - st.start);
    }
  }

  private updateCounts(): void {
    if (this.countTexts.size === 0) {
      return;
    }
    // leaf jobs under each collapsed scheduler, counted by state: from the kernel's counts
    // (a big graph's nested jobs are not described), else from the states known here
    const done = new Map<number, number>();
    const total = new Map<number, number>();
    const groups = this.model.stats.groups;
    for (const [key, counts] of Object.entries(groups ?? {})) {
      const id = Number(key);
      for (const [state, n] of Object.entries(counts)) {
        total.set(id, (total.get(id) ?? 0) + (n ?? 0));
        if (DONE_STATES.has(state)) done.set(id, (done.get(id) ?? 0) + (n ?? 0));
      }
    }
    for (const job of groups === undefined ? this.model.graph.jobs : []) {
      if (job.scheduler) continue;
      const state: State = this.model.stateOf(job.id);
      let parent = job.parent;
      while (parent !== null) {
        if (this.countTexts.has(parent)) {
          total.set(parent, (total.get(parent) ?? 0) + 1);
          if (DONE_STATES.has(state)) done.set(parent, (done.get(parent) ?? 0) + 1);
        }
        parent = this.model.byId.get(parent)?.parent ?? null;
      }
    }
    for (const [id, text] of this.countTexts) {
      text.textContent = `${done.get(id) ?? 0}/${total.get(id) ?? 0} done`;
    }
  }

  select(id: number | null): void {
    if (this.selected !== null) {
      this.nodes.get(this.selected)?.classList.remove("selected");
      this.clusters.get(this.selected)?.classList.remove("selected");
    }
    this.selected = id;
    if (id !== null) {
      this.nodes.get(id)?.classList.add("selected");
      this.clusters.get(id)?.classList.add("selected");
    }
  }

  fit(): void {
    const g = this.geometry;
    if (g === null) {
      return;
    }
    const width = this.el.clientWidth || 800;
    const pad = 8;
    const k0 = Math.min(1.25, (width - 2 * pad) / Math.max(g.width, 1));
    const height = Math.min(MAX_HEIGHT, g.height * k0 + 2 * pad);
    // a graph taller than the box is scaled down to show whole, but not below legibility
    const fitK = Math.max(0.2, Math.min(k0, (height - 2 * pad) / Math.max(g.height, 1)));
    this.svg.setAttribute("height", String(Math.ceil(height)));
    this.setTransform({
      k: fitK,
      x: Math.max(pad, (width - g.width * fitK) / 2),
      y: pad,
    });
  }

  zoomBy(factor: number, cx?: number, cy?: number): void {
    this.userMoved = true;
    const rect = this.svg.getBoundingClientRect();
    const px = cx ?? rect.width / 2;
    const py = cy ?? rect.height / 2;
    const k = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.t.k * factor));
    const ratio = k / this.t.k;
    this.setTransform({ k, x: px - (px - this.t.x) * ratio, y: py - (py - this.t.y) * ratio });
  }

  private setTransform(t: Transform): void {
    this.t = t;
    this.viewport.setAttribute("transform", `translate(${t.x},${t.y}) scale(${t.k})`);
  }

  private installPanZoom(): void {
    let start: { x: number; y: number; tx: number; ty: number; id: number } | null = null;
    this.svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      start = { x: ev.clientX, y: ev.clientY, tx: this.t.x, ty: this.t.y, id: ev.pointerId };
      this.dragged = false;
    });
    this.svg.addEventListener("pointermove", (ev) => {
      if (start === null || ev.pointerId !== start.id) return;
      const dx = ev.clientX - start.x;
      const dy = ev.clientY - start.y;
      // a few pixels of jitter are still a click
      if (!this.dragged && Math.hypot(dx, dy) < 4) return;
      if (!this.dragged) {
        this.dragged = true;
        this.userMoved = true;
        this.svg.setPointerCapture(ev.pointerId);
        this.svg.classList.add("dragging");
      }
      this.setTransform({ k: this.t.k, x: start.tx + dx, y: start.ty + dy });
    });
    const end = (ev: PointerEvent): void => {
      if (start === null || ev.pointerId !== start.id) return;
      start = null;
      this.svg.classList.remove("dragging");
      if (this.svg.hasPointerCapture(ev.pointerId)) {
        this.svg.releasePointerCapture(ev.pointerId);
      }
      // the click that ends a drag comes after pointerup: forget the drag after it
      setTimeout(() => {
        this.dragged = false;
      }, 0);
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
    // the wheel scrolls the notebook; it zooms only with Ctrl/Cmd held (or a pinch)
    this.svg.addEventListener(
      "wheel",
      (ev) => {
        if (!ev.ctrlKey && !ev.metaKey) return;
        ev.preventDefault();
        const rect = this.svg.getBoundingClientRect();
        this.zoomBy(Math.exp(-ev.deltaY * 0.002), ev.clientX - rect.left, ev.clientY - rect.top);
      },
      { passive: false },
    );
  }
}
