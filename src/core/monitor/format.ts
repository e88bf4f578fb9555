// User-facing numbers: "412 MB", "1 GB", "3.1 GB", "87 %".

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** Binary sizes with the familiar MB/GB labels, as system monitors show them. */
export function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${trimDecimal(bytes / GIB)} GB`;
  if (bytes >= MIB) return `${Math.round(bytes / MIB)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${Math.round(bytes)} B`;
}

export function formatPercent(percent: number): string {
  return `${Math.round(percent)} %`;
}

/** One decimal, without a trailing ".0". */
function trimDecimal(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
}
