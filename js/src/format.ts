// Small text helpers shared by the views.

/** A duration for people: 850 ms, 2.4 s, 3 min 05 s, 1 h 02 min. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return "–";
  }
  const s = Math.max(0, seconds);
  if (s < 1) {
    return `${Math.round(s * 1000)} ms`;
  }
  if (s < 10) {
    return `${s.toFixed(2)} s`;
  }
  if (s < 60) {
    return `${s.toFixed(1)} s`;
  }
  const whole = Math.floor(s);
  if (whole < 3600) {
    const m = Math.floor(whole / 60);
    return `${m} min ${String(whole % 60).padStart(2, "0")} s`;
  }
  const h = Math.floor(whole / 3600);
  return `${h} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")} min`;
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
