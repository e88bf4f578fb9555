// The report as a list of titled blocks (paragraphs and tables), rendered to Markdown or HTML by
// the renderers, so both formats always carry the same content.
import { plural } from '../format';
import { formatBytes, formatDuration, formatParallelism, formatTime } from './format';
import type { RunReport } from './model';

export interface TableBlock {
  kind: 'table';
  headers: string[];
  /** Right-aligned (numeric) columns. */
  numeric?: boolean[];
  rows: string[][];
}

export interface TextBlock {
  kind: 'text';
  text: string;
}

/** Marks where the HTML report draws its throughput chart; Markdown leaves it out. */
export interface ChartBlock {
  kind: 'throughput-chart' | 'timeline-chart';
}

export type Block = TableBlock | TextBlock | ChartBlock;

export interface Section {
  title: string;
  blocks: Block[];
}

const MAX_THROUGHPUT_ROWS = 120;

export function reportSections(report: RunReport): Section[] {
  return [
    summarySection(report),
    resourcesSection(report),
    throughputSection(report),
    agentsSection(report),
    tasksSection(report),
    failuresSection(report),
    deadLetterSection(report),
  ].filter((section): section is Section => section !== undefined);
}

function summarySection(report: RunReport): Section {
  const s = report.summary;
  const c = report.counts;
  const rows: string[][] = [
    ['Started', formatTime(s.startedAt)],
    ['Last attempt ended', formatTime(s.endedAt)],
    ['Wall time', formatDuration(s.wallMs)],
    ['Sum of task times', formatDuration(s.taskMs)],
    ['Average parallelism', `${formatParallelism(s.averageParallelism)} (sum of task times ÷ wall time)`],
    ['Peak parallelism', `${plural(s.peakParallelism, 'attempt')} at once`],
    ['Tasks on the board', `${c.done} done · ${c.dead} dead · ${c.cancelled} cancelled · ${c.running} running · ${c.pending} pending · ${c.waiting} waiting`],
    ['Posted in the log', String(s.posted)],
    ['Retries', `${s.retries} (failed attempts: ${s.failedAttempts}, lease expiries: ${s.leaseExpiries})`],
  ];
  return { title: 'Summary', blocks: [{ kind: 'table', headers: ['Figure', 'Value'], rows }] };
}

function resourcesSection(report: RunReport): Section {
  if (!report.hasResources) {
    return {
      title: 'Resource peaks',
      blocks: [{ kind: 'text', text: 'No pool resource figures were recorded for this board (a pool records them while it runs on the board: swarm run, or Start in VS Code).' }],
    };
  }
  const p = report.summary.peaks;
  const shared = p.hosts > 1;
  const rows = [
    ...(shared ? [['Hosts working at once', String(p.hosts)]] : []),
    [shared ? 'Agents alive at once, all hosts' : 'Agents alive at once', String(p.agents)],
    ['CPU of one agent (100 % = one core)', `${Math.round(p.agentCpuPercent)} %`],
    ['Memory of one agent', formatBytes(p.agentRssBytes)],
    [shared ? 'Memory of all agents, all hosts' : 'Memory of all agents', formatBytes(p.totalRssBytes)],
    [shared ? 'Machine CPU (the busiest host)' : 'Machine CPU', `${Math.round(p.systemCpuPercent)} %`],
  ];
  return { title: 'Resource peaks', blocks: [{ kind: 'table', headers: ['Peak', 'Value'], numeric: [false, true], rows }] };
}

function throughputSection(report: RunReport): Section | undefined {
  if (report.throughput.length === 0) return undefined;
  const minutes = report.bucketMs / 60_000;
  const unit = minutes === 1 ? 'minute' : `${minutes} minutes`;
  const busy = report.throughput.filter((point) => point.done + point.failed > 0);
  const shown = busy.slice(-MAX_THROUGHPUT_ROWS);
  const blocks: Block[] = [
    { kind: 'throughput-chart' },
    {
      kind: 'table',
      headers: [`${capitalise(unit)} starting`, 'Done', 'Failed attempts'],
      numeric: [false, true, true],
      rows: shown.map((point) => [formatTime(point.t), String(point.done), String(point.failed)]),
    },
  ];
  if (busy.length > shown.length) blocks.push({ kind: 'text', text: `Only the last ${shown.length} busy ${unit}s are listed.` });
  return { title: `Throughput per ${unit}`, blocks };
}

function agentsSection(report: RunReport): Section | undefined {
  if (report.agents.length === 0 && report.timeline.length === 0) return undefined;
  const wall = report.summary.wallMs;
  const rows = report.agents.map((agent) => [
    agent.agent,
    String(agent.attempts),
    String(agent.done),
    String(agent.failed),
    formatDuration(agent.busyMs),
    wall > 0 ? `${Math.round((agent.busyMs / wall) * 100)} %` : '–',
  ]);
  return {
    title: 'Agents',
    blocks: [{ kind: 'timeline-chart' }, { kind: 'table', headers: ['Agent', 'Attempts', 'Done', 'Not done', 'Busy', 'Busy share of wall time'], numeric: [false, true, true, true, true, true], rows }],
  };
}

function tasksSection(report: RunReport): Section {
  if (report.tasks.length === 0) return { title: 'Tasks', blocks: [{ kind: 'text', text: 'The board has no tasks.' }] };
  const rows = report.tasks.map((task) => [
    task.status,
    `${task.title} (${task.id})`,
    String(task.attempts),
    formatDuration(task.busyMs),
    task.executor ?? '',
    task.status === 'done' ? (task.summary ?? '') : (task.lastError ?? ''),
  ]);
  const blocks: Block[] = [
    { kind: 'table', headers: ['Status', 'Task', 'Attempts', 'Time', 'Executor', 'Summary or last error'], numeric: [false, false, true, true, false, false], rows },
  ];
  if (report.tasksOmitted > 0) blocks.push({ kind: 'text', text: `${report.tasksOmitted} more tasks are not listed (failures are listed first).` });
  return { title: 'Tasks', blocks };
}

function failuresSection(report: RunReport): Section | undefined {
  if (report.failures.length === 0) return undefined;
  const rows = report.failures.map((failure) => [
    formatTime(failure.at),
    `${failure.title} (${failure.taskId})`,
    String(failure.attempt),
    failure.permanent ? `${failure.kind}, permanent` : failure.kind,
    failure.message,
  ]);
  const blocks: Block[] = [{ kind: 'table', headers: ['Time', 'Task', 'Attempt', 'Kind', 'Message'], numeric: [false, false, true, false, false], rows }];
  if (report.failuresOmitted > 0) blocks.push({ kind: 'text', text: `${report.failuresOmitted} more failures are not listed.` });
  return { title: 'Failures and retries', blocks };
}

function deadLetterSection(report: RunReport): Section | undefined {
  if (report.deadLetters.length === 0) return undefined;
  const rows = report.deadLetters.map((letter) => [`${letter.title} (${letter.taskId})`, String(letter.attempts), formatTime(letter.at), letter.message]);
  return {
    title: 'Dead-letter queue',
    blocks: [
      { kind: 'text', text: 'These tasks used up their attempts. Requeue one with `swarm requeue ID` or from the dashboard.' },
      { kind: 'table', headers: ['Task', 'Attempts', 'Dead since', 'Last error'], numeric: [false, true, false, false], rows },
    ],
  };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
