// The dashboard's message contract, imported by both ends: the extension host
// (src/extension/dashboard) and the webview script (src/webview/dashboard). It lives in src/shared/
// because neither side owns it. No vscode and no Node imports: it is bundled for the browser.
//
// Flow: the webview posts `ready` when its script has loaded (also after every reload of a hidden
// panel); the host answers with an `update`, then pushes an update at most twice a second while
// the panel is visible. Actions are requests with an id; the host answers each with one `reply`.
import type { MetricsSnapshot } from '../core/metrics/types';

export const DASHBOARD_VIEW_TYPE = 'agentSwarm.dashboard';
export const DASHBOARD_PROTOCOL_VERSION = 1;

/** The pool as the header shows it; undefined in an update when no pool exists. */
export interface PoolView {
  running: boolean;
  mode: 'pool' | 'sequential';
  busy: number;
  total: number;
  maxAgents: number;
  pausedUntil?: number;
  pauseReason?: string;
  spawnBlockedReason?: string;
  /** Set when the pool runs in another process (e.g. `swarm run` in a terminal). */
  hostPid?: number;
  agents: { id: string; state: string; taskTitle?: string; cpuPercent?: number; rssBytes?: number }[];
}

export interface BoardView {
  root: string;
  counts: { pending: number; running: number; done: number; dead: number; cancelled: number; waiting: number };
}

/** Another pool working on the board (another process, or another machine on a shared board). */
export interface HostRowView {
  /** The machine's name. */
  name: string;
  hostPid: number;
  busy: number;
  maxAgents: number;
  agents: number;
  /** Its record expired: it stopped, crashed or lost the board. */
  gone: boolean;
  /** When it last wrote its record (epoch ms). */
  updatedAt: number;
}

/** The board cannot be reached: what the page shows is the state last read. */
export interface OfflineView {
  since: number;
  lastSeenAt?: number;
  reason: string;
}

export interface DashboardUpdate {
  /** Undefined when no board is open in the workspace. */
  board?: BoardView;
  pool?: PoolView;
  metrics?: MetricsSnapshot;
  /** Other pools on the board, live and gone (absent when there are none). */
  hosts?: HostRowView[];
  /** Present while the board cannot be reached. */
  offline?: OfflineView;
}

export type DashboardRequest =
  | { kind: 'requeue'; taskId: string }
  | { kind: 'requeueAll' }
  | { kind: 'exportReport' };

// ---------------------------------------------------------------- host → webview

export type HostMessage =
  | { type: 'update'; update: DashboardUpdate }
  | { type: 'reply'; requestId: number; ok: true; message: string }
  | { type: 'reply'; requestId: number; ok: false; error: string };

// ---------------------------------------------------------------- webview → host

export type WebviewMessage =
  | { type: 'ready'; version: number }
  | { type: 'request'; requestId: number; request: DashboardRequest };

/** What the webview keeps across reloads with getState/setState. */
export interface DashboardViewState {
  /** Minutes of history the time charts show. */
  windowMinutes: number;
  /** The last update, so a restored panel draws at once instead of blank. */
  lastUpdate?: DashboardUpdate;
}

export const DEFAULT_VIEW_STATE: DashboardViewState = { windowMinutes: 10 };

// ---------------------------------------------------------------- validation (messages cross a trust boundary)

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

const TASK_ID = /^[A-Za-z0-9._-]{1,200}$/;

export function isDashboardRequest(value: unknown): value is DashboardRequest {
  if (!isRecord(value)) return false;
  switch (value.kind) {
    case 'requeue':
      return typeof value.taskId === 'string' && TASK_ID.test(value.taskId);
    case 'requeueAll':
    case 'exportReport':
      return true;
    default:
      return false;
  }
}

export function isWebviewMessage(value: unknown): value is WebviewMessage {
  if (!isRecord(value)) return false;
  if (value.type === 'ready') return typeof value.version === 'number';
  if (value.type === 'request') return Number.isInteger(value.requestId) && isDashboardRequest(value.request);
  return false;
}

export function isHostMessage(value: unknown): value is HostMessage {
  if (!isRecord(value)) return false;
  if (value.type === 'update') return isRecord(value.update);
  if (value.type === 'reply') return Number.isInteger(value.requestId) && typeof value.ok === 'boolean';
  return false;
}
