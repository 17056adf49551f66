// The details of one job: label, state, times, result, exception, and its output, live.

import { h, replaceChildren } from "./dom";
import { formatDuration, formatOffset } from "./format";
import { type DagModel, seconds } from "./model";
import { DONE_STATES, type JobDetail } from "./protocol";

/** Output kept in the page per panel; older text is dropped first. */
export const PANEL_OUTPUT_MAX = 200_000;

export class Panel {
  readonly el: HTMLDivElement;
  jobId: number | null = null;
  /** true until the kernel's answer arrives: output deltas are in that answer */
  loading = false;
  private readonly title: HTMLElement;
  private readonly state: HTMLSpanElement;
  private readonly fields: HTMLDListElement;
  private readonly extra: HTMLDivElement;
  private readonly output: HTMLPreElement;
  private readonly cancel: HTMLButtonElement;
  private outputLength = 0;
  /** keep showing the newest output, until the reader scrolls up */
  private follow = true;

  constructor(
    private readonly model: DagModel,
    private readonly onClose: () => void,
    private readonly onCancelJob: (id: number) => void,
    private readonly onSelect: (id: number) => void,
  ) {
    this.title = h("strong", { class: "nbjobs-panel-label" });
    this.state = h("span", { class: "nbjobs-panel-state nbjobs-badge" });
    this.cancel = h("button", { type: "button", class: "nbjobs-cancel-job" }, "Cancel job");
    this.cancel.addEventListener("click", () => {
      if (this.jobId !== null) {
        this.cancel.disabled = true;
        this.onCancelJob(this.jobId);
      }
    });
    const close = h("button", { type: "button", class: "nbjobs-close", title: "Close" }, "×");
    close.addEventListener("click", () => this.onClose());
    this.fields = h("dl", { class: "nbjobs-fields" });
    this.extra = h("div", { class: "nbjobs-extra" });
    this.output = h("pre", { class: "nbjobs-output" });
    this.output.addEventListener("scroll", () => {
      const el = this.output;
      this.follow = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    });
    this.el = h(
      "div",
      { class: "nbjobs-panel", hidden: true, role: "region", "aria-label": "Job details" },
      h("div", { class: "nbjobs-panel-head" }, this.title, this.state, this.cancel, close),
      this.fields,
      this.extra,
      h("div", { class: "nbjobs-section" }, "Output"),
      this.output,
    );
  }

  open(id: number): void {
    this.jobId = id;
    this.loading = true;
    this.el.hidden = false;
    this.el.setAttribute("data-job", String(id));
    this.title.textContent = this.model.byId.get(id)?.label ?? `#${id}`;
    replaceChildren(this.fields);
    replaceChildren(this.extra, h("div", { class: "nbjobs-note" }, "Loading…"));
    this.output.textContent = "";
    this.outputLength = 0;
    this.follow = true;
    this.refresh(null);
  }

  close(): void {
    this.jobId = null;
    this.loading = false;
    this.el.hidden = true;
    this.el.removeAttribute("data-job");
  }

  /** Show the kernel's answer to a detail request. */
  show(d: JobDetail): void {
    this.loading = false;
    this.title.textContent = d.label;
    const origin = this.runOrigin();
    const [ready, start, end] = [seconds(d.ready), seconds(d.start), seconds(d.end)];
    const rows: [string, string][] = [
      ["id", String(d.id)],
      ["ready", formatOffset(ready, origin)],
      ["started", formatOffset(start, origin)],
      ["ended", formatOffset(end, origin)],
      ["duration", formatDuration(d.duration)],
    ];
    if (ready !== null && start !== null) {
      rows.push(["waited", formatDuration(start - ready)]);
    }
    const flags = [d.critical ? "critical" : "", d.forever ? "forever" : "", d.scheduler ? "nested scheduler" : ""]
      .filter((f) => f !== "")
      .join(", ");
    if (flags !== "") rows.push(["kind", flags]);
    if (d.attempts !== null && d.attempts > 1) rows.push(["attempts", String(d.attempts)]);
    if (d.where) rows.push(["ran on", d.where]);
    replaceChildren(this.fields, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

    const extra: Node[] = [];
    if (d.dashboard && /^https?:\/\//.test(d.dashboard)) {
      extra.push(
        h(
          "div",
          { class: "nbjobs-dashboard" },
          h("a", { href: d.dashboard, target: "_blank", rel: "noopener noreferrer" }, "dashboard"),
        ),
      );
    }
    if (d.requires.length > 0) {
      const links = d.requires.map(([id, label]) => {
        const a = h("button", { type: "button", class: "nbjobs-link" }, label);
        a.addEventListener("click", () => this.onSelect(id));
        return a;
      });
      extra.push(h("div", { class: "nbjobs-section" }, "Requires"), h("div", { class: "nbjobs-requires" }, ...links));
    }
    if (d.result !== null) {
      extra.push(h("div", { class: "nbjobs-section" }, "Result"), h("pre", { class: "nbjobs-result" }, d.result));
    }
    if (d.exception !== null) {
      extra.push(
        h("div", { class: "nbjobs-section" }, "Exception"),
        h("pre", { class: "nbjobs-exception" }, d.traceback ?? d.exception),
      );
    }
    if (d.cancel_reason !== null) {
      extra.push(h("div", { class: "nbjobs-reason" }, `Cancelled: ${d.cancel_reason}`));
    }
    if (d.skip_reason !== null) {
      extra.push(h("div", { class: "nbjobs-reason" }, `Skipped: ${d.skip_reason}`));
    }
    replaceChildren(this.extra, ...extra);
    this.output.textContent = "";
    this.outputLength = 0;
    if (d.output_truncated) {
      this.append("log", "[earlier output dropped]\n");
    }
    for (const [stream, text] of d.output) {
      this.append(stream, text);
    }
    this.refresh(null);
  }

  /** Output that arrived in a delta for the open job. */
  append(stream: string, text: string): void {
    const span = h("span", { class: `nbjobs-stream-${stream === "stderr" ? "stderr" : stream === "log" ? "log" : "stdout"}` }, text);
    this.output.append(span);
    this.outputLength += text.length;
    while (this.outputLength > PANEL_OUTPUT_MAX && this.output.firstChild !== null) {
      this.outputLength -= this.output.firstChild.textContent?.length ?? 0;
      this.output.firstChild.remove();
    }
    if (this.follow) {
      this.output.scrollTop = this.output.scrollHeight;
    }
  }

  /** Update the state badge and the elapsed time from the model. */
  refresh(kernelNow: number | null): void {
    if (this.jobId === null) return;
    const st = this.model.states.get(this.jobId);
    const state = st?.state ?? "idle";
    this.state.textContent =
      state === "running" && st?.start != null && kernelNow !== null
        ? `running ${formatDuration(kernelNow - st.start)}`
        : state;
    this.state.setAttribute("data-state", state);
    this.cancel.hidden = DONE_STATES.has(state);
    if (DONE_STATES.has(state)) this.cancel.disabled = false;
  }

  private runOrigin(): number | null {
    let origin: number | null = null;
    for (const st of this.model.states.values()) {
      const t = st.ready ?? st.start;
      if (t !== null && (origin === null || t < origin)) origin = t;
    }
    return origin;
  }
}
