// Numbers for people: clock times, durations, sizes, rates, dates.

/** "1:05", "12:00", "1:02:03" for seconds (playback clock, axis labels). */
export function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** "45 s", "3 min 5 s", "1 h 2 min" for a duration in seconds. */
export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m ? `${h} h ${m} min` : `${h} h`;
  return s ? `${m} min ${s} s` : `${m} min`;
}

/** "812 kB", "45.3 MB", "2.1 GB" (decimal units, as file managers show them). */
export function bytes(n) {
  if (n == null || !Number.isFinite(n)) return "—";
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${value} ${value === 1 ? "byte" : "bytes"}`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** "3.4 MB/s" for bytes per second. */
export function rate(bytesPerSecond) {
  return `${bytes(bytesPerSecond)}/s`;
}

/** "about 12 s left" / "about 3 min left" for an estimate in seconds. */
export function remaining(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 1) return "almost done";
  return `about ${duration(seconds)} left`;
}

/** A short local date and time for an ISO timestamp. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** "1 speaker", "3 speakers". */
export function count(n, singular, pluralForm = `${singular}s`) {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}

/** "42%" of a part in a whole, or "" when the whole is unknown. */
export function percent(part, whole) {
  if (!whole || !Number.isFinite(part)) return "";
  return `${Math.round((100 * part) / whole)}%`;
}
