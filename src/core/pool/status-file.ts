// Host status: every running pool (swarm run, VS Code) records on its board what it runs, every
// second, with a time to live (Board.putHost), and removes the record when it stops. `swarm agents`,
// the MCP server and the editor read them (Board.listHosts) to show every host on the board. A
// record that expired (its host crashed, or lost the board) is shown as gone; so is one whose
// process is gone from this machine.
import * as os from 'os';
import * as path from 'path';
import { FileHosts } from '../board/hosts';
import type { Board } from '../board/interface';
import { isProcessAlive } from '../process';
import { localBoardFolder } from './boardAccess';
import type { PoolStats } from './types';

/** How long a host's record holds without being rewritten (it is rewritten every second). */
export const HOST_STATUS_TTL_MS = 10_000;

export interface HostStatus extends PoolStats {
  /** When the host last wrote the record. */
  updatedAt: number;
  workspaceRoot: string;
  isolation: string;
  executor: string;
  /** The machine's name (os.hostname()); absent in records of older versions. */
  host?: string;
}

/** A host as listed: its last status, and whether it is gone. */
export interface HostView extends HostStatus {
  gone: boolean;
}

/**
 * The id of this process's record: its pid on a file board (whose hosts share one machine, and
 * whose records keep their `hosts/<pid>.json` names), the machine's name and the pid elsewhere.
 */
export function hostRecordId(board: Board, pid = process.pid): string {
  if (localBoardFolder(board) !== undefined) return String(pid);
  const name = os.hostname().replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 80) || 'host';
  return `${name}-${pid}`;
}

export function hostStatusFile(boardRoot: string, pid = process.pid): string {
  return path.join(boardRoot, 'hosts', `${pid}.json`);
}

/** This process's record on a file board, removed synchronously (the process is exiting). */
export function removeHostStatusNow(boardRoot: string, pid = process.pid): void {
  new FileHosts(boardRoot).remove(String(pid));
}

/** Every host on the board, live ones first (oldest first), then gone ones. */
export async function listHostStatuses(board: Board): Promise<HostView[]> {
  const views = (await board.listHosts()).flatMap((entry) => {
    const status = asHostStatus(entry.status);
    return status ? [{ ...status, gone: entry.gone || vanishedHere(status) }] : [];
  });
  return views.sort((a, b) => Number(a.gone) - Number(b.gone) || a.startedAt - b.startedAt);
}

/** The hosts that are running now. */
export async function liveHostStatuses(board: Board): Promise<HostView[]> {
  return (await listHostStatuses(board)).filter((host) => !host.gone);
}

/** Status of every live host on a file board in `boardRoot` (for callers that only have the folder). */
export function readHostStatuses(boardRoot: string): HostStatus[] {
  return new FileHosts(boardRoot)
    .list()
    .flatMap((entry) => {
      const status = asHostStatus(entry.status);
      return status && !entry.gone && !vanishedHere(status) ? [status] : [];
    })
    .sort((a, b) => a.startedAt - b.startedAt);
}

/** A record of this machine whose process no longer exists (or a pid reused by another program long after). */
function vanishedHere(status: HostStatus): boolean {
  const here = status.host === undefined || status.host === os.hostname();
  return here && !isProcessAlive(status.hostPid);
}

/** Records are written by other processes: only the shape the readers rely on is accepted. */
function asHostStatus(value: unknown): HostStatus | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const status = value as Partial<HostStatus>;
  if (typeof status.hostPid !== 'number' || typeof status.startedAt !== 'number' || !Array.isArray(status.agents)) return undefined;
  return status as HostStatus;
}
