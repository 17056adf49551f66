// The module anywidget loads for every DagWidget (its `_esm`), kept small because each
// widget's comm_open carries it, and a notebook saved with its widget state holds it once
// per widget. The view itself (runtime.js: the widget's code, the layout worker and
// Graphviz's WebAssembly) reaches the page once: it is the `bundle` trait of one
// kernel-wide model (nbjobs/_widget/runtime.py) that each DagWidget names in its
// `_runtime` trait. The first widget of the page imports it; the others reuse that import,
// kept on globalThis under a key that changes with the bundle, so that two versions of
// nbjobs in one page never share a module.

import type { AnyModel, Initialize, Render, RenderProps } from "@anywidget/types";

/** What runtime.js exports (js/src/widget.ts). */
export interface ViewModule {
  render(props: RenderProps): () => void;
  warmUp(): void;
}

interface Traits {
  _runtime: string;
}

interface RuntimeTraits {
  bundle: unknown;
}

interface RuntimeReply {
  type: "runtime";
  runtime: string;
}

const KEY = `__nbjobs_view_${__NBJOBS_RUNTIME__}`;
const REFERENCE = "IPY_MODEL_";
/** How long to wait for the kernel to name a live runtime model. */
const ASK_MS = 10_000;

function modelId(reference: unknown): string {
  if (typeof reference !== "string" || !reference.startsWith(REFERENCE)) {
    throw new Error(`nbjobs: the widget names no runtime model (${String(reference)})`);
  }
  return reference.slice(REFERENCE.length);
}

/** The bundle as the widget manager gives it: text (binary data is accepted too). */
function bundleSource(value: unknown): BlobPart {
  if (typeof value === "string" && value !== "") return value;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value as BlobPart;
  throw new Error("nbjobs: the runtime model holds no bundle");
}

/**
 * Ask the kernel which runtime model is live: the one this widget names was closed in the
 * kernel (a page reloaded after that would never find it), and the kernel re-creates it.
 */
function askRuntime(model: AnyModel<Traits>): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      model.off("msg:custom", onMessage);
      reject(new Error("nbjobs: the kernel did not name a runtime model"));
    }, ASK_MS);
    function onMessage(msg: unknown): void {
      const reply = msg as Partial<RuntimeReply> | null;
      if (reply === null || typeof reply !== "object" || reply.type !== "runtime") return;
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      resolve(String(reply.runtime));
    }
    model.on("msg:custom", onMessage);
    model.send({ type: "runtime" });
  });
}

async function loadView(model: AnyModel<Traits>): Promise<ViewModule> {
  const manager = model.widget_manager as AnyModel["widget_manager"] | undefined;
  if (manager === undefined) {
    throw new Error("nbjobs: this front-end gives widgets no widget manager");
  }
  let runtime: AnyModel<RuntimeTraits>;
  try {
    runtime = await manager.get_model<RuntimeTraits>(modelId(model.get("_runtime")));
  } catch {
    runtime = await manager.get_model<RuntimeTraits>(modelId(await askRuntime(model)));
  }
  const url = URL.createObjectURL(new Blob([bundleSource(runtime.get("bundle"))], { type: "text/javascript" }));
  try {
    return (await import(/* @vite-ignore */ url)) as ViewModule;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The page's one import of the view, started by the first widget that needs it. */
export function viewModule(model: AnyModel<Traits>): Promise<ViewModule> {
  const g = globalThis as unknown as Record<string, Promise<ViewModule> | undefined>;
  const known = g[KEY];
  if (known !== undefined) return known;
  const loading = loadView(model);
  g[KEY] = loading;
  // a failed load is not kept: the next widget tries again
  loading.catch(() => {
    if (g[KEY] === loading) delete g[KEY];
  });
  return loading;
}

const initialize: Initialize<Traits> = ({ model }) => {
  // not awaited: anywidget holds the model's messages until initialize returns, and gives
  // it two seconds; the import starts here so that Graphviz warms up while the view waits
  viewModule(model).then(
    (view) => view.warmUp(),
    () => undefined, // render() shows the error
  );
};

const render: Render<Traits> = async (props) => {
  let view: ViewModule;
  try {
    view = await viewModule(props.model);
  } catch (err) {
    const note = document.createElement("div");
    note.className = "nbjobs-load-error";
    note.textContent = `nbjobs: could not load the widget's view: ${String(err)}`;
    props.el.append(note);
    console.error("nbjobs: could not load the widget's view", err);
    return () => note.remove();
  }
  return view.render(props as unknown as RenderProps);
};

export default { initialize, render };
