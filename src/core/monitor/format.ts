// User-facing numbers: "412 MB", "1 GB", "3.1 GB", "87 %". Sizes come from the one formatter.
export { formatBytes } from '../format';

export function formatPercent(percent: number): string {
  return `${Math.round(percent)} %`;
}
