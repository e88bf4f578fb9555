// The report as one self-contained HTML file: inline styles, an inline SVG chart, no scripts and
// no remote content, so it opens anywhere and can be attached or archived as is.
import { formatDuration, formatTime } from './format';
import type { RunReport } from './model';
import { reportSections, type Block } from './sections';

const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --accent: #0969da; --bad: #cf222e; --bg: #ffffff; --stripe: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --border: #3d444d; --accent: #4493f8; --bad: #f85149; --bg: #0d1117; --stripe: #151b23; } }
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid var(--border); padding-bottom: .3rem; }
.meta { color: var(--muted); } code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 90%; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; } th, td { border: 1px solid var(--border); padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: var(--stripe); } tr:nth-child(even) td { background: var(--stripe); } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.status-dead { color: var(--bad); font-weight: 600; } svg { max-width: 100%; height: auto; } .bar-done { fill: var(--accent); } .bar-failed { fill: var(--bad); }
.axis { stroke: var(--border); } .label { fill: var(--muted); font-size: 11px; }
.outcome-running { fill: var(--accent); } .outcome-done { fill: #2da44e; } .outcome-failed { fill: #d18616; } .outcome-dead { fill: var(--bad); }
.outcome-lease-expired { fill: #bf8700; } .outcome-cancelled { fill: var(--muted); } .lane { fill: var(--fg); font-size: 11px; }
`;

export function renderHtml(report: RunReport): string {
  const body: string[] = [
    '<h1>Agent Swarm run report</h1>',
    `<p class="meta">Board <code>${escapeHtml(report.boardRoot)}</code> · generated ${escapeHtml(formatTime(report.generatedAt))}</p>`,
  ];
  for (const section of reportSections(report)) {
    body.push(`<section><h2>${escapeHtml(section.title)}</h2>`);
    for (const block of section.blocks) body.push(renderBlock(block, report));
    body.push('</section>');
  }
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // The report is data: nothing in it may run or fetch, even if a task title carries markup.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Agent Swarm run report — ${escapeHtml(formatTime(report.generatedAt))}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function renderBlock(block: Block, report: RunReport): string {
  switch (block.kind) {
    case 'text':
      return `<p>${inlineCode(escapeHtml(block.text))}</p>`;
    case 'throughput-chart':
      return throughputSvg(report);
    case 'timeline-chart':
      return timelineSvg(report);
    case 'table': {
      const numeric = (i: number): string => (block.numeric?.[i] ? ' class="num"' : '');
      const head = block.headers.map((header, i) => `<th${numeric(i)}>${escapeHtml(header)}</th>`).join('');
      const rows = block.rows
        .map((row) => `<tr>${row.map((cell, i) => `<td${cellClass(block.headers[i], cell) || numeric(i)}>${escapeHtml(cell)}</td>`).join('')}</tr>`)
        .join('\n');
      return `<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
    }
  }
}

function cellClass(header: string, cell: string): string {
  return header === 'Status' && cell === 'dead' ? ' class="status-dead"' : '';
}

/** Stacked bars, done over failed, one per bucket; the whole recorded range. */
function throughputSvg(report: RunReport): string {
  const points = report.throughput;
  if (points.length === 0) return '';
  const width = 900;
  const height = 180;
  const pad = { left: 36, bottom: 22, top: 8 };
  const plotHeight = height - pad.bottom - pad.top;
  const max = Math.max(1, ...points.map((point) => point.done + point.failed));
  const slot = (width - pad.left) / points.length;
  const bar = Math.max(1, slot * 0.8);
  const bars = points
    .map((point, i) => {
      const x = pad.left + i * slot;
      const doneHeight = (point.done / max) * plotHeight;
      const failedHeight = (point.failed / max) * plotHeight;
      const base = height - pad.bottom;
      const title = `<title>${escapeHtml(formatTime(point.t))}: ${point.done} done, ${point.failed} failed</title>`;
      return (
        `<g>${title}<rect class="bar-done" x="${x.toFixed(1)}" y="${(base - doneHeight).toFixed(1)}" width="${bar.toFixed(1)}" height="${doneHeight.toFixed(1)}"/>` +
        `<rect class="bar-failed" x="${x.toFixed(1)}" y="${(base - doneHeight - failedHeight).toFixed(1)}" width="${bar.toFixed(1)}" height="${failedHeight.toFixed(1)}"/></g>`
      );
    })
    .join('');
  const axis = `<line class="axis" x1="${pad.left}" y1="${height - pad.bottom}" x2="${width}" y2="${height - pad.bottom}"/>`;
  const labels =
    `<text class="label" x="${pad.left - 4}" y="${pad.top + 10}" text-anchor="end">${max}</text>` +
    `<text class="label" x="${pad.left - 4}" y="${height - pad.bottom}" text-anchor="end">0</text>` +
    `<text class="label" x="${pad.left}" y="${height - 6}">${escapeHtml(formatTime(points[0].t))}</text>` +
    `<text class="label" x="${width}" y="${height - 6}" text-anchor="end">${escapeHtml(formatTime(points[points.length - 1].t))}</text>`;
  return `<svg role="img" aria-label="Tasks finished per time bucket" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${axis}${bars}${labels}</svg>`;
}

const LANE = 18;
const LANE_LABEL = 120;

/** One lane per agent, one bar per attempt coloured by outcome: the run's parallelism at a glance. */
function timelineSvg(report: RunReport): string {
  const bars = report.timeline;
  if (bars.length === 0) return '';
  const from = Math.min(...bars.map((bar) => bar.start));
  const to = Math.max(...bars.map((bar) => bar.end ?? report.generatedAt));
  const agents = [...new Set(bars.map((bar) => bar.agent))].sort();
  const width = 900;
  const height = agents.length * LANE + 24;
  const span = Math.max(1, to - from);
  const x = (t: number): number => LANE_LABEL + ((t - from) / span) * (width - LANE_LABEL - 4);
  const lanes = agents
    .map((agent, i) => `<text class="lane" x="${LANE_LABEL - 6}" y="${i * LANE + 13}" text-anchor="end">${escapeHtml(agent.slice(0, 18))}</text>`)
    .join('');
  const rects = bars
    .map((bar) => {
      const left = x(bar.start);
      const barWidth = Math.max(1.5, x(bar.end ?? report.generatedAt) - left);
      const title = `${bar.title} (${bar.taskId}), attempt ${bar.attempt}: ${bar.outcome}, ${formatDuration((bar.end ?? report.generatedAt) - bar.start)}`;
      return `<rect class="outcome-${bar.outcome}" x="${left.toFixed(1)}" y="${agents.indexOf(bar.agent) * LANE + 3}" width="${barWidth.toFixed(1)}" height="${LANE - 6}" rx="2"><title>${escapeHtml(title)}</title></rect>`;
    })
    .join('');
  const labels =
    `<text class="label" x="${LANE_LABEL}" y="${height - 4}">${escapeHtml(formatTime(from))}</text>` +
    `<text class="label" x="${width}" y="${height - 4}" text-anchor="end">${escapeHtml(formatTime(to))}</text>`;
  return `<svg role="img" aria-label="Agent timeline: one lane per agent, one bar per attempt" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${lanes}${rects}${labels}</svg>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** `code` spans in already-escaped text. */
function inlineCode(escaped: string): string {
  return escaped.replace(/`([^`]+)`/g, '<code>$1</code>');
}
