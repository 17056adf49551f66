// The layout engine: Graphviz (WebAssembly, inlined in the bundle: nothing is fetched) turns
// DOT into geometry. build.mjs bundles this file alone and the widget starts it as a Web
// Worker from a Blob URL, so a big layout never freezes the page; where workers are not
// allowed the widget imports the same text as a module and calls layout() on the page.

import { Graphviz } from "@hpcc-js/wasm-graphviz";
import { geometryFromJson, type Geometry, type GvJson } from "./geometry";

export interface LayoutRequest {
  id: number;
  dot: string;
}

export type LayoutReply =
  | { id: number; ok: true; geometry: Geometry; ms: number }
  | { id: number; ok: false; error: string };

let graphviz: Promise<Graphviz> | null = null;

export async function layout(dot: string): Promise<Geometry> {
  graphviz ??= Graphviz.load();
  const gv = await graphviz;
  // json0: the layout without drawing operations (Graphviz knows it; the typings do not)
  const json0 = "json0" as Parameters<Graphviz["layout"]>[1];
  return geometryFromJson(JSON.parse(gv.layout(dot, json0, "dot")) as GvJson);
}

async function answer(request: LayoutRequest): Promise<LayoutReply> {
  try {
    graphviz ??= Graphviz.load();
    await graphviz; // loading the WebAssembly is not the layout's time
    const t0 = performance.now();
    const geometry = await layout(request.dot);
    return { id: request.id, ok: true, geometry, ms: performance.now() - t0 };
  } catch (err) {
    return { id: request.id, ok: false, error: String(err) };
  }
}

declare const WorkerGlobalScope: { new (): unknown } | undefined;

if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
  const scope = self as unknown as {
    onmessage: ((ev: MessageEvent<LayoutRequest>) => void) | null;
    postMessage(msg: LayoutReply): void;
  };
  scope.onmessage = (ev) => {
    void answer(ev.data).then((reply) => scope.postMessage(reply));
  };
}
