// The report as GitHub-flavoured Markdown.
import { formatTime } from './format';
import type { RunReport } from './model';
import { reportSections, type Block } from './sections';

export function renderMarkdown(report: RunReport): string {
  const lines = [
    '# Agent Swarm run report',
    '',
    `Board \`${report.boardRoot}\` · generated ${formatTime(report.generatedAt)}`,
    '',
  ];
  for (const section of reportSections(report)) {
    lines.push(`## ${section.title}`, '');
    for (const block of section.blocks) {
      const rendered = renderBlock(block);
      if (rendered.length > 0) lines.push(...rendered, '');
    }
  }
  return lines.join('\n');
}

function renderBlock(block: Block): string[] {
  switch (block.kind) {
    case 'text':
      return [block.text];
    case 'throughput-chart':
    case 'timeline-chart':
      return [];
    case 'table': {
      const align = block.headers.map((_, i) => (block.numeric?.[i] ? '---:' : '---'));
      return [row(block.headers), `| ${align.join(' | ')} |`, ...block.rows.map(row)];
    }
  }
}

function row(cells: string[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}

/** A table cell holds one line; pipes and HTML-ish brackets would break the table. */
function cell(text: string): string {
  const oneLine = text.replace(/\r?\n+/g, ' ').replace(/\s+/g, ' ').trim();
  const short = oneLine.length > 300 ? `${oneLine.slice(0, 299)}…` : oneLine;
  return short.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
