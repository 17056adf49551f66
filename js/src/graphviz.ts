// One Graphviz per page, shared by every nbjobs widget: anywidget loads each widget's module
// on its own, and a worker holding Graphviz's WebAssembly per widget would add up. The worker
// runs the bundle of worker.ts, which build.mjs inlines here as text.

import workerSource from "nbjobs:worker-source";
import type { Geometry } from "./geometry";
import type { LayoutReply, LayoutRequest } from "./worker";

export type LayoutWhere = "worker" | "page";

export interface LayoutResult {
  geometry: Geometry;
  where: LayoutWhere;
  /** from the request to the answer, queueing included */
  ms: number;
  /** Graphviz's own time (worker only; null on the page) */
  engineMs: number | null;
}

/** Layouts remembered, by DOT text. */
const CACHE_SIZE = 8;

interface Pending {
  dot: string;
  resolve: (r: LayoutResult) => void;
  reject: (e: Error) => void;
  t0: number;
}

interface WorkerModule {
  layout(dot: string): Promise<Geometry>;
}

export interface Layouter {
  readonly where: LayoutWhere;
  layout(dot: string): Promise<LayoutResult>;
}

export class LayoutService implements Layouter {
  private readonly url: string;
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private pageModule: Promise<WorkerModule> | null = null;
  private readonly cache = new Map<string, Promise<LayoutResult>>();

  constructor(inPage = false) {
    this.url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
    if (inPage || typeof Worker === "undefined") {
      return;
    }
    try {
      const worker = new Worker(this.url, { type: "module", name: "nbjobs-graphviz" });
      worker.onmessage = (ev: MessageEvent<LayoutReply>) => this.settle(ev.data);
      // a worker that cannot start (a strict Content-Security-Policy, say) reports here:
      // finish what it was asked on the page instead
      worker.onerror = (ev) => {
        ev.preventDefault();
        console.warn("nbjobs: layout worker failed, laying out on the page", ev.message);
        this.worker = null;
        worker.terminate();
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          this.inPage(p);
        }
      };
      this.worker = worker;
    } catch (err) {
      console.warn("nbjobs: no layout worker, laying out on the page", err);
      this.worker = null;
    }
  }

  get where(): LayoutWhere {
    return this.worker === null ? "page" : "worker";
  }

  /**
   * Lay `dot` out. The last few answers are kept: a notebook re-renders a widget's view
   * (a second display, the end-of-run refresh) with the same structure.
   */
  layout(dot: string): Promise<LayoutResult> {
    const known = this.cache.get(dot);
    if (known !== undefined) {
      // most recently used last
      this.cache.delete(dot);
      this.cache.set(dot, known);
      return known;
    }
    const result = this.compute(dot);
    this.cache.set(dot, result);
    result.catch(() => this.cache.delete(dot));
    while (this.cache.size > CACHE_SIZE) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    return result;
  }

  private compute(dot: string): Promise<LayoutResult> {
    return new Promise<LayoutResult>((resolve, reject) => {
      const p: Pending = { dot, resolve, reject, t0: performance.now() };
      if (this.worker === null) {
        this.inPage(p);
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, p);
      const request: LayoutRequest = { id, dot };
      this.worker.postMessage(request);
    });
  }

  private settle(reply: LayoutReply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) {
      return;
    }
    this.pending.delete(reply.id);
    if (reply.ok) {
      p.resolve({
        geometry: reply.geometry,
        where: "worker",
        ms: performance.now() - p.t0,
        engineMs: reply.ms,
      });
    } else {
      p.reject(new Error(reply.error));
    }
  }

  private inPage(p: Pending): void {
    this.pageModule ??= import(/* @vite-ignore */ this.url) as Promise<WorkerModule>;
    this.pageModule
      .then((mod) => mod.layout(p.dot))
      .then(
        (geometry) =>
          p.resolve({ geometry, where: "page", ms: performance.now() - p.t0, engineMs: null }),
        (err: unknown) => p.reject(err instanceof Error ? err : new Error(String(err))),
      );
  }
}

const KEY = `__nbjobs_graphviz_${__NBJOBS_BUILD__}`;

/**
 * The page's shared layout service. Setting `globalThis.NBJOBS_LAYOUT_IN_PAGE = true` before
 * the first widget shows forces the in-page path (how the browser test covers it).
 */
export function layoutService(): Layouter {
  // duck-typed: each widget may load its own copy of this module, hence its own class
  const g = globalThis as unknown as Record<string, unknown>;
  const known = g[KEY];
  if (typeof known === "object" && known !== null && "layout" in known) {
    return known as Layouter;
  }
  const service = new LayoutService(g.NBJOBS_LAYOUT_IN_PAGE === true);
  g[KEY] = service;
  return service;
}
