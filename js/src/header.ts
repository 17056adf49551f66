// The header: the scheduler's label, progress, the legend with counts per state, the
// elapsed time, the outcome and the Cancel button.

import { h } from "./dom";
import { formatDuration } from "./format";
import type { DagModel } from "./model";
import { STATES, type State } from "./protocol";

export class Header {
  readonly el: HTMLDivElement;
  private readonly title: HTMLElement;
  private readonly bar: HTMLDivElement;
  private readonly progress: HTMLDivElement;
  private readonly progressText: HTMLSpanElement;
  private readonly elapsed: HTMLSpanElement;
  private readonly outcome: HTMLSpanElement;
  private readonly status: HTMLSpanElement;
  readonly cancel: HTMLButtonElement;
  private readonly counts = new Map<State, HTMLSpanElement>();

  constructor(
    private readonly model: DagModel,
    onCancel: () => void,
  ) {
    this.title = h("strong", { class: "nbjobs-title" });
    this.bar = h("div", { class: "nbjobs-progress-bar" });
    this.progress = h(
      "div",
      { class: "nbjobs-progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 },
      this.bar,
    );
    this.progressText = h("span", { class: "nbjobs-progress-text" });
    this.elapsed = h("span", { class: "nbjobs-elapsed", title: "elapsed" });
    this.outcome = h("span", { class: "nbjobs-outcome" });
    this.status = h("span", { class: "nbjobs-status", role: "status" });
    this.cancel = h("button", { type: "button", class: "nbjobs-cancel", title: "Cancel the whole run" }, "Cancel");
    this.cancel.addEventListener("click", () => {
      this.cancel.disabled = true;
      this.cancel.textContent = "Cancelling…";
      onCancel();
    });
    const legend = h("div", { class: "nbjobs-legend" });
    for (const state of STATES) {
      const count = h("span", { class: "nbjobs-count" }, "0");
      this.counts.set(state, count);
      legend.append(
        h(
          "span",
          { class: "nbjobs-legend-item", "data-count-state": state },
          h("span", { class: "nbjobs-swatch", "data-state": state }),
          state,
          " ",
          count,
        ),
      );
    }
    legend.append(
      h("span", { class: "nbjobs-legend-item" }, h("span", { class: "nbjobs-swatch critical" }), "critical"),
      h("span", { class: "nbjobs-legend-item" }, h("span", { class: "nbjobs-swatch forever" }), "forever"),
    );
    this.el = h(
      "div",
      { class: "nbjobs-header" },
      h(
        "div",
        { class: "nbjobs-header-row" },
        this.title,
        this.progress,
        this.progressText,
        this.elapsed,
        this.outcome,
        this.cancel,
      ),
      legend,
      this.status,
    );
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }

  render(localNow: number): void {
    const model = this.model;
    this.title.textContent = model.graph.label;
    const { done, total } = model.progress();
    const pct = total === 0 ? 0 : Math.round((100 * done) / total);
    this.bar.style.width = `${pct}%`;
    this.progress.setAttribute("aria-valuenow", String(pct));
    this.progressText.textContent = `${done}/${total}`;
    for (const [state, el] of this.counts) {
      el.textContent = String(model.stats.counts[state] ?? 0);
    }
    const elapsed = model.elapsed(localNow);
    this.elapsed.textContent = elapsed === null ? "" : formatDuration(elapsed);
    const { started, finished, outcome } = model.stats;
    this.outcome.textContent = finished ? (outcome ?? "finished") : started ? "running" : "not started";
    this.outcome.setAttribute("data-outcome", finished ? "finished" : started ? "running" : "idle");
    const running = started && !finished;
    if (!running) {
      this.cancel.textContent = "Cancel";
    }
    this.cancel.disabled = !running || this.cancel.textContent !== "Cancel";
  }
}
