// The view of one DagWidget model, kept in step with the kernel. Structure comes from the
// `graph` trait, states from the `snapshot` trait and from coalesced `delta` messages.
// Built into runtime.js, which reaches the page once: loader.ts, anywidget's module for
// every DagWidget, imports it.

import type { RenderProps } from "@anywidget/types";
import css from "./style.css";
import { h } from "./dom";
import { GANTT_MAX_ROWS, GanttView } from "./gantt";
import { GraphView } from "./graphview";
import { layoutService } from "./graphviz";
import { Header } from "./header";
import { LIST_MAX_ROWS, ListView } from "./listview";
import { DagModel, outputByJob } from "./model";
import { Panel } from "./panel";
import { Querier } from "./querier";
import type { GraphSpec, GraphTrait, KernelMsg, QueryView, Snapshot, ViewMsg } from "./protocol";
import { decodeGraph } from "./protocol";

/** Both traits hold JSON text (see nbjobs/_widget/widget.py for why). */
interface Traits {
  graph_json: string;
  snapshot_json: string;
}

type Tab = "graph" | "timeline" | "list";

const TICK_MS = 250;

function localNow(): number {
  return performance.now() / 1000;
}

function render({ model, el }: RenderProps<Traits>): () => void {
  const renderStart = performance.now();
  let painted = false;
  const dag = new DagModel();
  const root = h("div", { class: "nbjobs-dag", "data-ready": "false" });
  root.append(h("style", {}, css));
  let nextRequest = 1;
  const send = (msg: ViewMsg): void => model.send(msg);

  const select = (id: number): void => {
    if (panel.jobId !== null && panel.jobId !== id) {
      send({ type: "unwatch", job: panel.jobId });
    }
    panel.open(id);
    graph.select(id);
    send({ type: "detail", id: nextRequest++, job: id });
  };
  const closePanel = (): void => {
    if (panel.jobId !== null) send({ type: "unwatch", job: panel.jobId });
    panel.close();
    graph.select(null);
  };

  const header = new Header(dag, () => send({ type: "cancel", id: nextRequest++ }));
  const graph = new GraphView(dag, select);
  const gantt = new GanttView(dag, select);
  const panel = new Panel(dag, closePanel, (id) => send({ type: "cancel_job", id: nextRequest++, job: id }), select);

  const graphTrait = (): GraphSpec => decodeGraph(JSON.parse(model.get("graph_json")) as GraphTrait);
  const snapshotTrait = (): Snapshot => JSON.parse(model.get("snapshot_json")) as Snapshot;
  dag.setGraph(graphTrait());
  dag.applySnapshot(snapshotTrait(), localNow());
  // a big graph (collapsed or list mode): the list and the timeline ask the kernel for rows
  const querier = new Querier((view) => {
    const id = nextRequest++;
    const listing = view === "list";
    send({
      type: "query",
      id,
      view,
      filter: listing ? list.filter : "all",
      search: listing ? list.searchText : "",
      limit: listing ? LIST_MAX_ROWS : GANTT_MAX_ROWS,
    });
    return id;
  });
  const list = new ListView(dag, select, dag.graph.mode === "full" ? "all" : "attention", () => querier.ask("list"));
  const asking = (): QueryView | null => (dag.lazy && (tab === "list" || tab === "timeline") ? tab : null);

  const tabButtons = new Map<Tab, HTMLButtonElement>();
  const tabBodies: Record<Tab, HTMLElement> = { graph: graph.el, timeline: gantt.el, list: list.el };
  let tab: Tab = "graph";
  const tabs = h("div", { class: "nbjobs-tabs", role: "tablist" });
  for (const [name, text] of [
    ["graph", "Graph"],
    ["timeline", "Timeline"],
    ["list", "List"],
  ] as [Tab, string][]) {
    const b = h("button", { type: "button", role: "tab", "data-tab": name }, text);
    b.addEventListener("click", () => showTab(name));
    tabButtons.set(name, b);
    tabs.append(b);
  }
  const body = h("div", { class: "nbjobs-body" }, graph.el, gantt.el, list.el);
  root.append(header.el, tabs, h("div", { class: "nbjobs-main" }, body, panel.el));
  el.append(root);

  function showTab(name: Tab): void {
    tab = name;
    for (const [n, b] of tabButtons) {
      b.setAttribute("aria-selected", String(n === name));
    }
    for (const [n, bodyEl] of Object.entries(tabBodies)) {
      bodyEl.hidden = n !== name;
    }
    root.setAttribute("data-tab", name);
    const view = asking();
    if (view !== null) querier.ask(view);
    refreshVisible();
    if (name === "graph") graph.fit();
  }

  function refreshVisible(): void {
    const now = dag.kernelNow(localNow());
    if (tab === "timeline") gantt.render(now);
    if (tab === "list") list.render();
  }

  // layout: only a new structure is laid out; a stale answer is dropped
  let layoutGeneration = 0;
  function layout(): void {
    const generation = ++layoutGeneration;
    root.setAttribute("data-layouts", String(generation));
    const spec = dag.graph;
    root.setAttribute("data-mode", spec.mode);
    root.setAttribute("data-ready", "false");
    if (spec.dot === "") {
      graph.clear();
      graph.showMessage(
        `${spec.leaves} jobs: too many to draw. The List tab shows running and failed jobs and their neighbours.`,
      );
      root.setAttribute("data-ready", "true");
      return;
    }
    graph.showMessage(spec.mode === "collapsed" ? `${spec.leaves} jobs: nested schedulers are collapsed.` : "");
    const t0 = performance.now();
    layoutService()
      .layout(spec.dot)
      .then((result) => {
        if (generation !== layoutGeneration) return;
        const t1 = performance.now();
        graph.draw(result.geometry);
        const t2 = performance.now();
        // measured by the browser benchmarks
        root.setAttribute("data-layout-ms", String(Math.round(t1 - t0)));
        root.setAttribute("data-draw-ms", String(Math.round(t2 - t1)));
        root.setAttribute("data-layout-where", result.where);
        if (result.engineMs !== null) {
          root.setAttribute("data-engine-ms", String(Math.round(result.engineMs)));
        }
        root.setAttribute("data-nodes", String(graph.nodeCount));
        if (!painted) {
          // from the view's creation to a drawn graph: "painted after display"
          painted = true;
          root.setAttribute("data-paint-ms", String(Math.round(t2 - renderStart)));
        }
        root.setAttribute("data-ready", "true");
      })
      .catch((err: unknown) => {
        if (generation !== layoutGeneration) return;
        graph.showMessage(`Could not lay out the graph: ${String(err)}`);
        root.setAttribute("data-ready", "true");
      });
  }

  let listDirty = false;
  function onStates(changed: number[]): void {
    graph.setStates(changed);
    header.render(localNow());
    if (panel.jobId !== null && changed.includes(panel.jobId)) {
      panel.refresh(dag.kernelNow(localNow()));
      // a job that just finished has a result or an exception to show
      send({ type: "detail", id: nextRequest++, job: panel.jobId });
    }
    // a big graph: the list changes with the kernel's answers, asked for when a delta comes
    if (!dag.lazy) listDirty = true;
    scheduleVisible();
  }

  // the timeline and list redraw at most once a frame, and only when shown
  let frame = 0;
  function scheduleVisible(): void {
    if (frame !== 0) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (tab === "list" && listDirty) {
        listDirty = false;
        list.render();
      } else if (tab === "timeline") {
        gantt.render(dag.kernelNow(localNow()));
      }
    });
  }

  function applySnapshot(snap: Snapshot): void {
    // the panel's job may have changed in it (a run's last change comes in a snapshot)
    const shown = panel.jobId;
    const before = shown === null ? null : dag.stateOf(shown);
    if (dag.applySnapshot(snap, localNow())) {
      graph.setAllStates();
      onStates(shown !== null && dag.stateOf(shown) !== before ? [shown] : []);
    }
  }

  function onMessage(msg: KernelMsg): void {
    switch (msg.type) {
      case "delta": {
        const changed = dag.applyDelta(msg, localNow());
        if (changed === null) {
          // deltas were missed (this view was created between two of them): resync
          send({ type: "hello" });
          return;
        }
        onStates(changed);
        const view = asking();
        if (view !== null) querier.refresh(view);
        if (panel.jobId !== null && !panel.loading) {
          const out = outputByJob(msg.output).get(panel.jobId);
          for (const [stream, text] of out ?? []) panel.append(stream, text);
        }
        return;
      }
      case "snapshot":
        applySnapshot(msg);
        return;
      case "detail":
        if (msg.job === panel.jobId) panel.show(msg.detail);
        return;
      case "rows": {
        querier.answered(msg.id, msg.cost_ms ?? 0);
        const changed = dag.applyAnswer(msg);
        if (panel.jobId !== null && changed.includes(panel.jobId)) {
          panel.refresh(dag.kernelNow(localNow()));
        }
        if (msg.view === "list") listDirty = true;
        scheduleVisible();
        return;
      }
      case "ack":
        return;
      case "error":
        if (msg.id !== null) querier.answered(msg.id);
        header.setStatus(msg.message);
        header.cancel.textContent = "Cancel";
        header.render(localNow());
        return;
    }
  }

  const onCustom = (msg: KernelMsg): void => onMessage(msg);
  const onGraph = (): void => {
    dag.setGraph(graphTrait());
    layout();
    header.render(localNow());
    listDirty = true;
    const view = asking();
    if (view !== null) querier.ask(view);
    scheduleVisible();
  };
  const onSnapshot = (): void => applySnapshot(snapshotTrait());
  model.on("msg:custom", onCustom);
  model.on("change:graph_json", onGraph);
  model.on("change:snapshot_json", onSnapshot);

  const timer = setInterval(() => {
    const running = dag.stats.started && !dag.stats.finished;
    if (!running) return;
    const now = dag.kernelNow(localNow());
    header.render(localNow());
    graph.tick(now);
    panel.refresh(now);
    if (tab === "timeline") scheduleVisible();
  }, TICK_MS);

  showTab(dag.graph.mode === "full" || dag.graph.mode === "collapsed" ? "graph" : "list");
  header.render(localNow());
  layout();
  // the traits may be older than the last delta: ask for the current state
  send({ type: "hello" });

  return () => {
    clearInterval(timer);
    querier.dispose();
    if (frame !== 0) cancelAnimationFrame(frame);
    graph.dispose();
    model.off("msg:custom", onCustom);
    model.off("change:graph_json", onGraph);
    model.off("change:snapshot_json", onSnapshot);
    if (panel.jobId !== null) send({ type: "unwatch", job: panel.jobId });
    root.remove();
  };
}

// start Graphviz while the kernel sends the first state: the first layout then waits less
export function warmUp(): void {
  try {
    void layoutService().layout("digraph{}").catch(() => undefined);
  } catch {
    // no layout at all: render() will say so
  }
}

export { render };
