// In list mode the page asks the kernel for the rows it shows (see GraphMode in
// protocol.ts). The Querier paces those questions: one in flight per view, a question
// asked meanwhile is sent when the answer comes, and the ones a running run prompts are
// spaced so that answering costs the kernel at most a tenth of its time.

import type { QueryView } from "./protocol";

/** milliseconds between two questions that the run's progress prompts, at least */
export const MIN_SPACING_MS = 250;
/** answering may take this share of the kernel's time at most */
const BUDGET = 0.1;

type Timer = ReturnType<typeof setTimeout>;

export class Querier {
  private readonly inFlight = new Map<QueryView, number>();
  private readonly again = new Set<QueryView>();
  private readonly timers = new Map<QueryView, Timer>();
  private readonly lastAt = new Map<QueryView, number>();
  private readonly spacing = new Map<QueryView, number>();

  /** `send(view)` sends a query and returns its request id. */
  constructor(
    private readonly send: (view: QueryView) => number,
    private readonly now: () => number = () => performance.now(),
    private readonly schedule: (fn: () => void, ms: number) => Timer = (fn, ms) => setTimeout(fn, ms),
    private readonly unschedule: (t: Timer) => void = (t) => clearTimeout(t),
  ) {}

  /** Ask now (the user changed what the view shows), or as soon as the answer in flight comes. */
  ask(view: QueryView): void {
    if (this.inFlight.has(view)) {
      this.again.add(view);
      return;
    }
    const timer = this.timers.get(view);
    if (timer !== undefined) {
      this.unschedule(timer);
      this.timers.delete(view);
    }
    this.lastAt.set(view, this.now());
    this.inFlight.set(view, this.send(view));
  }

  /** Ask again because the run moved on: at most once per spacing. */
  refresh(view: QueryView): void {
    if (this.inFlight.has(view)) {
      this.again.add(view);
      return;
    }
    if (this.timers.has(view)) return;
    const last = this.lastAt.get(view);
    const wait = last === undefined ? 0 : last + (this.spacing.get(view) ?? MIN_SPACING_MS) - this.now();
    if (wait <= 0) {
      this.ask(view);
      return;
    }
    this.timers.set(
      view,
      this.schedule(() => {
        this.timers.delete(view);
        this.ask(view);
      }, wait),
    );
  }

  /** An answer (or an error) for request `id` came; `costMs` is what it cost the kernel. */
  answered(id: number, costMs = 0): void {
    for (const [view, pending] of this.inFlight) {
      if (pending !== id) continue;
      this.inFlight.delete(view);
      this.spacing.set(view, Math.max(MIN_SPACING_MS, costMs / BUDGET));
      if (this.again.delete(view)) this.refresh(view);
    }
  }

  /** True while a question for `view` waits for its answer. */
  waiting(view: QueryView): boolean {
    return this.inFlight.has(view);
  }

  dispose(): void {
    for (const timer of this.timers.values()) this.unschedule(timer);
    this.timers.clear();
  }
}
