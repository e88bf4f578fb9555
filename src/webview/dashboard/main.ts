/// <reference lib="dom" />
// The dashboard page. It draws what the host sends (`update`), asks the host to act (`request`),
// and keeps its view state and last update with setState so a reloaded page draws at once.
import type { AgentSeries, DeadLetter, MetricsSnapshot, RunSummary } from '../../core/metrics/types';
import { plural } from '../../core/format';
import { formatBytes, formatDuration, formatParallelism } from '../../core/report/format';
import {
  DASHBOARD_PROTOCOL_VERSION,
  DEFAULT_VIEW_STATE,
  isHostMessage,
  type DashboardRequest,
  type DashboardUpdate,
  type DashboardViewState,
  type HostMessage,
  type HostRowView,
  type OfflineView,
  type PoolView,
  type WebviewMessage,
} from '../../shared/dashboardProtocol';
import { bucketChart, formatCount, lineChart, SERIES_CLASSES, timelineChart, type Frame, type LineSeries } from './charts';
import { h, icon } from './dom';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): DashboardViewState | undefined;
  setState(state: DashboardViewState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const WINDOW_CHOICES = [5, 10, 30, 60, 240];
const CHART_HEIGHT = 150;
const MAX_DEAD_ROWS = 200;
const MIB = 1024 * 1024;
const STATE_SAVE_MS = 3_000;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;
let state: DashboardViewState = { ...DEFAULT_VIEW_STATE, ...vscode.getState() };
let nextRequestId = 1;
/** Requests awaiting their reply, by id; the value names the action so a redraw keeps its button disabled. */
const pendingRequests = new Map<number, string>();
let statusMessage: { text: string; error: boolean } | undefined;
let statusTimer: ReturnType<typeof setTimeout> | undefined;

// ---------------------------------------------------------------- messages

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const message = event.data;
  if (!isHostMessage(message)) return;
  onHostMessage(message);
});

function onHostMessage(message: HostMessage): void {
  if (message.type === 'update') {
    const first = !savedOnce;
    state = { ...state, lastUpdate: message.update };
    if (first) saveStateNow();
    else saveStateSoon();
    render();
    return;
  }
  pendingRequests.delete(message.requestId);
  statusMessage = message.ok ? { text: message.message, error: false } : { text: message.error, error: true };
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => {
    statusMessage = undefined;
    render();
  }, 8_000);
  render();
}

function requestKey(request: DashboardRequest): string {
  return request.kind === 'requeue' ? `requeue:${request.taskId}` : request.kind;
}

function isPending(request: DashboardRequest): boolean {
  return [...pendingRequests.values()].includes(requestKey(request));
}

function request(request: DashboardRequest, button?: HTMLButtonElement): void {
  if (isPending(request)) return;
  const requestId = nextRequestId++;
  pendingRequests.set(requestId, requestKey(request));
  if (button) button.disabled = true;
  vscode.postMessage({ type: 'request', requestId, request });
}

/** A button that sends `action`, disabled while an identical request awaits its reply. */
function actionButton(action: DashboardRequest, attributes: Record<string, string>, ...content: (Node | string)[]): HTMLButtonElement {
  const button = h('button', { ...attributes, 'data-focus-key': requestKey(action), disabled: isPending(action) }, ...content);
  button.addEventListener('click', () => request(action, button));
  return button;
}

/**
 * Saves the view state at most every few seconds: an update can weigh hundreds of KB and arrives
 * twice a second, and the saved copy only has to be recent enough to draw a restored page at once.
 */
let saveTimer: ReturnType<typeof setTimeout> | undefined;
let savedOnce = false;

// A hidden panel's page is torn down: save the latest state on the way out.
window.addEventListener('pagehide', () => saveStateNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') saveStateNow();
});

function saveStateSoon(): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    saveStateNow();
  }, STATE_SAVE_MS);
}

function saveStateNow(): void {
  savedOnce = true;
  clearTimeout(saveTimer);
  saveTimer = undefined;
  vscode.setState({ ...state, ...(state.lastUpdate ? { lastUpdate: trimForState(state.lastUpdate) } : {}) });
}

/** Keeps what the charts can show, so the saved state stays small. */
function trimForState(update: DashboardUpdate): DashboardUpdate {
  const metrics = update.metrics;
  if (!metrics) return update;
  const from = metrics.at - Math.max(...WINDOW_CHOICES) * 60_000;
  const recent = <T extends { t: number }>(points: T[]): T[] => points.filter((point) => point.t >= from);
  return {
    ...update,
    metrics: {
      ...metrics,
      throughput: recent(metrics.throughput),
      queue: recent(metrics.queue),
      system: recent(metrics.system),
      agents: metrics.agents.map((series) => ({ ...series, points: recent(series.points) })),
      timeline: metrics.timeline.filter((bar) => (bar.end ?? metrics.at) >= from),
    },
  };
}

// ---------------------------------------------------------------- rendering

/** Charts are drawn once their card is laid out, to the card's real width. */
const pendingCharts: { slot: HTMLElement; draw: (width: number) => Element }[] = [];

function chartSlot(draw: (width: number) => Element): HTMLElement {
  const slot = h('div', { class: 'chart-slot' });
  pendingCharts.push({ slot, draw });
  return slot;
}

function drawCharts(): void {
  for (const { slot, draw } of pendingCharts.splice(0)) slot.replaceChildren(draw(Math.max(200, Math.floor(slot.clientWidth))));
}

function render(): void {
  pendingCharts.length = 0;
  const update = state.lastUpdate;
  const focusKey = document.activeElement?.getAttribute('data-focus-key');
  const content: Node[] = [header(update)];
  if (statusMessage) {
    content.push(h('div', { class: `status-line${statusMessage.error ? ' error' : ''}`, role: 'status' }, icon(statusMessage.error ? 'error' : 'check'), statusMessage.text));
  }
  if (update?.offline) content.push(offlineLine(update.offline));
  if (!update) {
    content.push(h('p', { class: 'empty' }, 'Waiting for the extension…'));
  } else if (!update.board) {
    content.push(
      h('div', { class: 'empty' }, h('p', {}, 'There is no Swarm board in this workspace yet.'), h('p', {}, 'Post a task (Swarm: Post Task…) or fix a file with the swarm, and the dashboard fills in as agents work.')),
    );
  } else if (update.metrics) {
    content.push(...body(update.metrics, update.pool));
  }
  if (update?.hosts && update.hosts.length > 0) content.push(hostsCard(update.hosts));
  app.replaceChildren(...content);
  drawCharts();
  // Updates arrive twice a second: keep keyboard focus on the same control across the redraw.
  if (focusKey) app.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
}

/** The header is built once and kept, so an open dropdown or a focused button survives updates. */
let headerParts: { element: HTMLElement; badges: HTMLElement; exportButton: HTMLButtonElement } | undefined;

function header(update: DashboardUpdate | undefined): HTMLElement {
  if (!headerParts) {
    const windowSelect = h('select', { id: 'window', 'aria-label': 'Time window of the charts' });
    for (const minutes of WINDOW_CHOICES) {
      const option = h('option', { value: minutes, selected: minutes === state.windowMinutes }, minutes < 60 ? `Last ${minutes} min` : `Last ${minutes / 60} h`);
      windowSelect.append(option);
    }
    windowSelect.addEventListener('change', () => {
      state = { ...state, windowMinutes: Number(windowSelect.value) };
      saveStateNow();
      render();
    });
    const exportButton = h('button', { class: 'secondary', title: 'Write a Markdown or HTML report of this run' }, icon('export'), 'Export Report');
    exportButton.addEventListener('click', () => request({ kind: 'exportReport' }, exportButton));
    const badges = h('span', { class: 'badges' });
    const element = h('header', {}, h('div', { class: 'title' }, h('h1', {}, 'Swarm Dashboard'), badges), h('div', { class: 'actions' }, windowSelect, exportButton));
    headerParts = { element, badges, exportButton };
  }
  headerParts.badges.replaceChildren(...[poolBadge(update?.pool), boardBadge(update)].filter((badge): badge is HTMLElement => badge !== undefined));
  headerParts.exportButton.disabled = isPending({ kind: 'exportReport' });
  return headerParts.element;
}

function poolBadge(pool: PoolView | undefined): HTMLElement {
  if (!pool) return h('span', { class: 'badge idle' }, icon('circle-outline'), 'Pool not started');
  if (pool.pausedUntil && pool.pausedUntil > Date.now()) {
    return h('span', { class: 'badge warning', title: pool.pauseReason ?? '' }, icon('debug-pause'), `Paused until ${new Date(pool.pausedUntil).toLocaleTimeString()}`);
  }
  if (!pool.running) return h('span', { class: 'badge idle' }, icon('circle-outline'), 'Pool stopped');
  const mode = (pool.mode === 'sequential' ? ' (sequential)' : '') + (pool.hostPid !== undefined ? ` · process ${pool.hostPid}` : '');
  return h('span', { class: 'badge running', title: pool.spawnBlockedReason ?? '' }, icon('pulse'), `${pool.busy}/${pool.maxAgents} busy · ${plural(pool.total, 'agent')} started${mode}`);
}

function boardBadge(update: DashboardUpdate | undefined): HTMLElement | undefined {
  const counts = update?.board?.counts;
  if (!counts) return undefined;
  return h('span', { class: 'badge', title: update.board!.root }, icon('checklist'), `${counts.done} done · ${counts.running} running · ${counts.pending} pending · ${counts.dead} dead`);
}

function body(metrics: MetricsSnapshot, pool: PoolView | undefined): Node[] {
  const to = metrics.at;
  const from = to - state.windowMinutes * 60_000;
  const frame = (width: number): Frame => ({ width, height: CHART_HEIGHT, from, to });
  return [
    summaryCards(metrics.summary),
    h(
      'div',
      { class: 'grid' },
      card(
        'Throughput',
        'Tasks finished per minute (failed attempts stacked on top)',
        chartSlot((width) => bucketChart(frame(width), metrics.throughput, metrics.bucketMs, 'Throughput chart')),
        legend([['done', 'Done'], ['failed', 'Failed']]),
      ),
      card(
        'Queue depth',
        'Tasks waiting and running',
        chartSlot((width) => queueChart(frame(width), metrics)),
        legend([['series-0', 'Pending'], ['series-1', 'Running'], ['series-2', 'Delayed (retry backoff)']]),
      ),
      card(
        'CPU per agent',
        '100 % is one core; an agent counts with its child processes',
        chartSlot((width) => resourceChart(frame(width), metrics.agents, 'cpu')),
        agentLegend(metrics.agents, pool),
      ),
      card(
        'Memory per agent',
        'Resident memory of each agent and its child processes',
        chartSlot((width) => resourceChart(frame(width), metrics.agents, 'memory')),
        agentLegend(metrics.agents, pool),
      ),
    ),
    card(
      'Agent timeline',
      'One lane per agent, one bar per attempt; bars stacked above each other ran in parallel',
      metrics.timeline.length > 0
        ? chartSlot((width) => timelineChart({ width, from, to }, metrics.timeline, metrics.at, 'Agent timeline'))
        : h('p', { class: 'muted' }, 'No attempt has started yet.'),
      legend([['outcome-running', 'Running'], ['outcome-done', 'Done'], ['outcome-failed', 'Failed (retried)'], ['outcome-dead', 'Dead'], ['outcome-lease-expired', 'Lease expired'], ['outcome-cancelled', 'Cancelled']]),
    ),
    deadLetterCard(metrics.deadLetters, metrics.deadLettersOmitted),
  ];
}

/** The board cannot be reached: what the page shows is the state last read, and since when. */
function offlineLine(offline: OfflineView): HTMLElement {
  const seen = offline.lastSeenAt !== undefined ? `showing the board as last seen at ${new Date(offline.lastSeenAt).toLocaleTimeString()}` : 'nothing was read before';
  return h(
    'div',
    { class: 'status-line error offline', role: 'status', title: `${offline.reason}\nThe dashboard updates again as soon as the board answers.` },
    icon('debug-disconnect'),
    `Offline since ${new Date(offline.since).toLocaleTimeString()}: ${seen}.`,
  );
}

/** Every other pool on the board (other processes, other machines), gone ones marked. */
function hostsCard(hosts: HostRowView[]): HTMLElement {
  const live = hosts.filter((host) => !host.gone).length;
  return card(
    `Other pools on this board (${live} running${live < hosts.length ? `, ${hosts.length - live} gone` : ''})`,
    'Pools of other processes or machines, from their records on the board',
    h(
      'ul',
      { class: 'hosts' },
      ...hosts.map((host) =>
        h(
          'li',
          { class: host.gone ? 'host gone' : 'host' },
          icon(host.gone ? 'debug-disconnect' : 'vm'),
          `${host.name} · pid ${host.hostPid} · `,
          host.gone ? `gone (last heard ${new Date(host.updatedAt).toLocaleTimeString()})` : `${host.busy}/${host.maxAgents} busy · ${plural(host.agents, 'agent')}`,
        ),
      ),
    ),
  );
}

function summaryCards(summary: RunSummary): HTMLElement {
  const figures: [string, string, string][] = [
    ['Wall time', formatDuration(summary.wallMs), 'From the first attempt’s start to the last one’s end (or now)'],
    ['Sum of task times', formatDuration(summary.taskMs), 'All attempts’ durations added up'],
    ['Average parallelism', formatParallelism(summary.averageParallelism), 'Sum of task times ÷ wall time: attempts running side by side on average (not a speedup)'],
    ['Peak parallelism', String(summary.peakParallelism), 'Most attempts running at once'],
    ['Done', String(summary.done), 'Tasks completed'],
    ['Dead', String(summary.dead), 'Tasks in the dead-letter queue'],
    ['Retries', String(summary.retries), `Failed attempts: ${summary.failedAttempts}; lease expiries: ${summary.leaseExpiries}`],
    ['Peak CPU (agent)', summary.peaks.agents > 0 ? `${Math.round(summary.peaks.agentCpuPercent)} %` : '–', '100 % is one core'],
    ['Peak memory (all agents)', summary.peaks.agents > 0 ? formatBytes(summary.peaks.totalRssBytes) : '–', `One agent at most: ${formatBytes(summary.peaks.agentRssBytes)}`],
  ];
  return h(
    'section',
    { class: 'summary', 'aria-label': 'Run summary' },
    ...figures.map(([label, value, title]) => h('div', { class: 'figure', title }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label))),
  );
}

function card(title: string, description: string, ...content: (Node | undefined)[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', { title: description }, title), ...content.filter((node): node is Node => node !== undefined));
}

function legend(entries: [string, string][]): HTMLElement {
  return h('div', { class: 'legend' }, ...entries.map(([colour, label]) => h('span', {}, h('span', { class: `swatch ${colour}` }), label)));
}

function agentColour(index: number): string {
  return `series-${index % SERIES_CLASSES}`;
}

function agentLegend(agents: AgentSeries[], pool: PoolView | undefined): HTMLElement {
  if (agents.length === 0) {
    return h('p', { class: 'muted' }, pool ? 'Waiting for the first resource sample…' : 'Start the pool to see its agents’ CPU and memory.');
  }
  return legend(agents.map((series, i) => [agentColour(i), series.agentId]));
}

function queueChart(frame: Frame, metrics: MetricsSnapshot): SVGSVGElement {
  // Depth holds until the next change: extend each series to now so the last level stays visible.
  const withNow = <T extends { t: number }>(points: T[]): T[] => (points.length > 0 ? [...points, { ...points[points.length - 1], t: metrics.at }] : points);
  const queue = withNow(metrics.queue);
  const series: LineSeries[] = [
    { name: 'Pending', colour: 'series-0', points: stepped(queue.map((point) => ({ t: point.t, v: point.pending }))) },
    { name: 'Running', colour: 'series-1', points: stepped(queue.map((point) => ({ t: point.t, v: point.running }))) },
    { name: 'Delayed', colour: 'series-2', points: stepped(queue.map((point) => ({ t: point.t, v: point.delayed }))) },
  ];
  return lineChart(frame, clipToFrame(series, frame), formatCount, 'Queue depth chart');
}

/** Counts change in steps: draw a step line, not a slope between two samples. */
function stepped(points: { t: number; v: number }[]): { t: number; v: number }[] {
  const result: { t: number; v: number }[] = [];
  for (const point of points) {
    const previous = result[result.length - 1];
    if (previous && previous.v !== point.v) result.push({ t: point.t, v: previous.v });
    result.push(point);
  }
  return result;
}

/** Carries the level from before the window into its left edge. */
function clipToFrame(series: LineSeries[], frame: Frame): LineSeries[] {
  return series.map((line) => {
    const before = line.points.filter((point) => point.t < frame.from).pop();
    return before ? { ...line, points: [{ t: frame.from, v: before.v }, ...line.points.filter((point) => point.t >= frame.from)] } : line;
  });
}

function resourceChart(frame: Frame, agents: AgentSeries[], kind: 'cpu' | 'memory'): SVGSVGElement {
  // Memory is charted in MiB so the axis ends on a round binary figure (100 MB, 200 MB, 500 MB…).
  const series: LineSeries[] = agents.map((agent, i) => ({
    name: agent.agentId,
    colour: agentColour(i),
    points: agent.points.map((point) => ({ t: point.t, v: kind === 'cpu' ? point.cpuPercent : point.rssBytes / MIB })),
  }));
  return kind === 'cpu'
    ? lineChart(frame, series, (value) => `${Math.round(value)} %`, 'CPU per agent chart', 100)
    : lineChart(frame, series, (value) => formatBytes(value * MIB), 'Memory per agent chart', 100);
}

function deadLetterCard(letters: DeadLetter[], omitted: number): HTMLElement {
  if (letters.length === 0) {
    return card('Dead-letter queue', 'Tasks that used up their attempts', h('p', { class: 'muted' }, icon('pass'), ' No dead tasks.'));
  }
  const requeueAll = actionButton({ kind: 'requeueAll' }, { class: 'secondary', title: 'Move every dead task back to pending with a fresh attempt budget' }, icon('debug-restart'), `Requeue all (${letters.length + omitted})`);
  const rows = letters.slice(0, MAX_DEAD_ROWS).map((letter) => {
    const button = actionButton({ kind: 'requeue', taskId: letter.taskId }, { class: 'row-action', title: `Requeue ${letter.title}` }, icon('debug-restart'), 'Requeue');
    return h(
      'tr',
      { 'data-task-id': letter.taskId },
      h('td', { title: letter.taskId }, letter.title),
      h('td', { class: 'num' }, String(letter.attempts)),
      h('td', {}, new Date(letter.at).toLocaleString()),
      h('td', { class: 'message', title: letter.message }, letter.message),
      h('td', {}, button),
    );
  });
  const shown = Math.min(letters.length, MAX_DEAD_ROWS);
  const more = letters.length + omitted - shown;
  return card(
    'Dead-letter queue',
    'Tasks that used up their attempts',
    h('div', { class: 'card-actions' }, requeueAll),
    h(
      'table',
      { class: 'dlq' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Task'), h('th', { class: 'num' }, 'Attempts'), h('th', {}, 'Dead since'), h('th', {}, 'Last error'), h('th', {}, ''))),
      h('tbody', {}, ...rows),
    ),
    more > 0 ? h('p', { class: 'muted' }, `${more} more dead tasks are not listed.`) : undefined,
  );
}

// Charts are drawn to the panel's width: redraw when it changes.
let lastWidth = 0;
new ResizeObserver(() => {
  if (Math.abs(app.clientWidth - lastWidth) < 8) return;
  lastWidth = app.clientWidth;
  render();
}).observe(app);

render();
vscode.postMessage({ type: 'ready', version: DASHBOARD_PROTOCOL_VERSION });
