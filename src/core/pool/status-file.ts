// Host status files: `<board>/hosts/<pid>.json`, one per running pool, rewritten atomically every
// second, removed on stop. `swarm agents` reads them to show the pools of running hosts; a file
// whose host pid is gone (a crashed host) is ignored and cleaned up by the reader.
import * as fs from 'fs';
import * as path from 'path';
import writeFileAtomic from 'write-file-atomic';
import { isProcessAlive } from '../process';
import type { PoolStats } from './types';

const STALE_AFTER_MS = 30_000;

export interface HostStatus extends PoolStats {
  /** When the host last wrote the file. */
  updatedAt: number;
  workspaceRoot: string;
  isolation: string;
  executor: string;
}

export function hostsDir(boardRoot: string): string {
  return path.join(boardRoot, 'hosts');
}

export function hostStatusFile(boardRoot: string, pid = process.pid): string {
  return path.join(hostsDir(boardRoot), `${pid}.json`);
}

export function writeHostStatus(boardRoot: string, status: HostStatus): void {
  fs.mkdirSync(hostsDir(boardRoot), { recursive: true });
  // No fsync: the file is rewritten every second and means nothing after a machine crash.
  writeFileAtomic.sync(hostStatusFile(boardRoot, status.hostPid), JSON.stringify(status), { fsync: false });
}

export function removeHostStatus(boardRoot: string, pid = process.pid): void {
  fs.rmSync(hostStatusFile(boardRoot, pid), { force: true });
}

/** Status of every live host on the board; files of dead hosts are removed. */
export function readHostStatuses(boardRoot: string): HostStatus[] {
  let names: string[];
  try {
    names = fs.readdirSync(hostsDir(boardRoot));
  } catch {
    return [];
  }
  const statuses: HostStatus[] = [];
  for (const name of names) {
    const match = /^(\d+)\.json$/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    const file = path.join(hostsDir(boardRoot), name);
    if (!isProcessAlive(pid)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    try {
      const status = JSON.parse(fs.readFileSync(file, 'utf8')) as HostStatus;
      // A pid reused by another program: the file stopped being refreshed long ago.
      if (Date.now() - status.updatedAt < STALE_AFTER_MS) statuses.push(status);
    } catch {
      // Being replaced right now, or damaged: skip it this time.
    }
  }
  return statuses.sort((a, b) => a.startedAt - b.startedAt);
}
