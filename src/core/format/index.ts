// The one way figures read across the CLI, the views, the dashboard and the reports: durations,
// byte sizes and counted nouns. Pure, with no Node or vscode import, so the browser bundle of the
// dashboard uses it too. Write no other formatter for these; extend this one.

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/**
 * "850 ms", "12.5 s", "3 min 05 s", "2 h 10 min". An impossible value (negative, NaN, infinite)
 * reads as an empty string, so a view shows nothing rather than a wrong figure.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 59_950) return `${oneDecimal(ms / 1_000)} s`;
  const totalSeconds = Math.round(ms / 1_000);
  if (totalSeconds < 3_600) return `${Math.floor(totalSeconds / 60)} min ${twoDigits(totalSeconds % 60)} s`;
  const totalMinutes = Math.round(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)} h ${twoDigits(totalMinutes % 60)} min`;
}

/**
 * Binary sizes with the familiar labels, as system monitors show them: "512 B", "12 KB",
 * "412 MB", "3.1 GB", "1024 GB". Impossible values read as an empty string.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes >= GIB) return `${oneDecimal(bytes / GIB)} GB`;
  if (bytes >= MIB) return `${Math.round(bytes / MIB)} MB`;
  if (bytes >= KIB) return `${Math.round(bytes / KIB)} KB`;
  return `${Math.round(bytes)} B`;
}

/** "1 file", "3 files", "0 files"; `many` for nouns whose plural is not noun + "s" ("2 entries"). */
export function plural(count: number, noun: string, many = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : many}`;
}

/** One decimal, without a trailing ".0". */
function oneDecimal(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
}

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}
