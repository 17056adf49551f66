// The list/filter view: what a big run shows instead of a drawing, and a table for any run.

import { h, replaceChildren } from "./dom";
import { formatDuration } from "./format";
import type { DagModel, ListFilter } from "./model";
import { STATES } from "./protocol";

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

  render(): void {
    const ids = this.model.filter(this.select.value as ListFilter, this.search.value);
    const rows: HTMLTableRowElement[] = [];
    for (const id of ids.slice(0, LIST_MAX_ROWS)) {
      const job = this.model.byId.get(id);
      const st = this.model.states.get(id);
      const state = st?.state ?? "idle";
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
      rows.push(row);
    }
    replaceChildren(this.body, ...rows);
    this.note.textContent =
      ids.length > LIST_MAX_ROWS
        ? `${ids.length} jobs match; the first ${LIST_MAX_ROWS} are listed.`
        : ids.length === 0
          ? "No job matches."
          : `${ids.length} jobs.`;
  }
}
