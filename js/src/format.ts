// Small text helpers shared by the views.

/**
 * A duration as every view of nbjobs writes it (nbjobs/_views/format.py's
 * format_duration, kept equal by tests/durations.json): 0.05s, 2.35s, 12.3s, 3m07s,
 * 2h05m; "–" when unknown.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return "–";
  }
  const s = Math.max(0, seconds);
  if (s < 10) {
    return `${s.toFixed(2)}s`;
  }
  if (s < 60) {
    return `${s.toFixed(1)}s`;
  }
  const whole = Math.floor(s);
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) {
    return `${minutes}m${String(whole % 60).padStart(2, "0")}s`;
  }
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/** Cut text to at most `max` characters (code points), marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) {
    return text;
  }
  return chars.slice(0, Math.max(0, max - 1)).join("") + "…";
}

/** A time on the run's clock, relative to the run's first event. */
export function formatOffset(t: number | null, origin: number | null): string {
  if (t === null || origin === null) {
    return "–";
  }
  return `+${formatDuration(t - origin)}`;
}
