// Due dates: the form's <input type="datetime-local"> holds "YYYY-MM-DDTHH:mm" in the browser's
// time zone; the API takes and gives RFC 3339 (it answers in UTC, "...Z").

const pad = (n: number) => String(n).padStart(2, "0");

/** "2026-12-07T09:30:00Z" → "2026-12-07T10:30" in the browser's zone (Europe/Paris, say). */
export function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "2026-12-07T10:30" (browser's zone) → "2026-12-07T09:30:00.000Z"; "" → null. */
export function fromLocalInput(local: string): string | null {
  if (!local) return null;
  const d = new Date(local); // a date-time without an offset is local time
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A due date for people: in their zone and language. */
export function formatDue(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
