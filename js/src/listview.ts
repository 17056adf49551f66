// The list/filter view: what a big run shows instead of a drawing, and a table for any run.

import { h, replaceChildren } from "./dom";
import { formatDuration } from "./format";
import type { DagModel, ListFilter } from "./model";
import { STATES } from "./protocol";
import type { State } from "./protocol";

/** Rows rendered at most: the filter narrows a big run down, the DOM stays small. */
export const LIST_MAX_ROWS = 500;

export class ListView {
  readonly el: HTMLDivElement;
  private readonly select: HTMLSelectElement;
  private readonly search: HTMLInputElement;
  private readonly body: HTMLTableSectionElement;
  private readonly note: HTMLDivElement;

  constructor(
    private readonly model: DagModel,
    private readonly onSelect: (id: number) => void,
    initial: ListFilter,
    /** list mode: the rows come from the kernel, asked for through this */
    private readonly onQuery: () => void = () => undefined,
  ) {
    this.select = h(
      "select",
      { class: "nbjobs-filter", "aria-label": "Which jobs to list" },
      h("option", { value: "attention" }, "running & failed, with neighbours"),
      h("option", { value: "all" }, "all jobs"),
      ...STATES.map((st) => h("option", { value: st }, st)),
    );
    this.select.value = initial;
    this.search = h("input", {
      class: "nbjobs-search",
      type: "search",
      placeholder: "label or id",
      "aria-label": "Filter by label or id",
    });
    this.select.addEventListener("change", () => this.render());
    this.search.addEventListener("input", () => this.render());
    this.body = h("tbody");
    this.note = h("div", { class: "nbjobs-note" });
    const table = h(
      "table",
      { class: "nbjobs-list" },
      h(
        "thead",
        {},
        h("tr", {}, h("th", {}, "id"), h("th", {}, "job"), h("th", {}, "state"), h("th", {}, "duration")),
      ),
      this.body,
    );
    this.el = h(
      "div",
      { class: "nbjobs-listview" },
      h("div", { class: "nbjobs-list-controls" }, this.select, this.search),
      table,
      this.note,
    );
  }

  get filter(): ListFilter {
    return this.select.value as ListFilter;
  }

  get searchText(): string {
    return this.search.value;
  }

  render(): void {
    if (this.model.lazy) {
      this.renderAnswer();
      return;
    }
    const ids = this.model.filter(this.filter, this.search.value);
    replaceChildren(this.body, ...ids.slice(0, LIST_MAX_ROWS).map((id) => this.row(id)));
    this.note.textContent = summary(ids.length, Math.min(ids.length, LIST_MAX_ROWS));
  }

  /** List mode: the kernel's latest answer; another question when it answers something else. */
  private renderAnswer(): void {
    const answer = this.model.answers.get("list");
    const current = answer !== undefined && answer.filter === this.filter && answer.search === this.search.value;
    if (!current) this.onQuery();
    if (answer === undefined) {
      replaceChildren(this.body);
      this.note.textContent = "Asking the kernel for the jobs…";
      return;
    }
    // a stale answer stays on screen until the new one comes: typing does not blank the list
    replaceChildren(this.body, ...answer.rows.map(([id]) => this.row(id)));
    this.note.textContent = current ? summary(answer.total, answer.rows.length) : "Asking the kernel for the jobs…";
  }

  private row(id: number): HTMLTableRowElement {
    const job = this.model.byId.get(id);
    const st = this.model.states.get(id);
    const state: State = st?.state ?? "idle";
    const duration = st?.start != null && st.end != null ? formatDuration(st.end - st.start) : "";
    const row = h(
      "tr",
      { class: "nbjobs-row", "data-job-id": id, "data-state": state, tabindex: 0 },
      h("td", { class: "nbjobs-num" }, String(id)),
      h("td", {}, job?.label ?? `#${id}`),
      h("td", {}, h("span", { class: "nbjobs-swatch", "data-state": state }), state),
      h("td", { class: "nbjobs-num" }, duration),
    );
    row.addEventListener("click", () => this.onSelect(id));
    row.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") this.onSelect(id);
    });
    return row;
  }
}

function summary(total: number, listed: number): string {
  if (total > listed) return `${total} jobs match; the first ${listed} are listed.`;
  return total === 0 ? "No job matches." : `${total} jobs.`;
}
