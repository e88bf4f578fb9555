// Live users of a board's older format (1), found before a newer build marks the board format 2.
// A build of format 1 checks the format only when it opens the board: one that already has it
// open keeps claiming after the upgrade, and it does not see format 2's file-scope lease records,
// so it could run a task whose files another task holds. What such a build leaves that proves it
// is alive (see git show 417894a:src/core/board/):
//   - a pool (swarm run, the editor, sequential mode too) rewrites hosts/<pid>.json every second
//     with `expiresAt`, `hostPid`, `host` (the machine) and its agents' pids;
//   - a claim of a task with files writes one entry per path, locks/<20 hex digits>/<running file
//     name>, and its holder keeps the running file's mtime (the lease's expiry) in the future.
// Short-lived commands of format 1 (swarm post, swarm claim) open the board anew each time, and
// refuse it once it says format 2: they need no check.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readDirNames } from './durable';
import { HOST_RECORD_FORMAT_KEY, readHostRecords, type StoredHostRecord } from './hosts';
import { isProcessAlive } from '../process/liveness'; // a zombie (killed, not reaped) counts as exited
import { parseName } from './names';

/** One live user of the older format, described for the refusal. */
type OlderUser = string;

/** Every live user of format 1 of the board at `root`: pools first, then claims held the old way. */
export function liveOlderFormatUsers(root: string, now: number): OlderUser[] {
  const hosts = readHostRecords(root).map(describeHost);
  const users = hosts.filter((record) => isLiveOlderPool(record, now)).map(describePool);
  for (const claim of olderWayClaims(root)) {
    if (claim.leaseExpiresAt <= now || isKnownDeadClaim(claim, hosts)) continue;
    users.push(describeClaim(claim));
  }
  return users;
}

interface HostRecord {
  id: string;
  pid: number | undefined;
  machine: string | undefined;
  expiresAt: number;
  format: unknown;
  workspaceRoot: string | undefined;
  agentPids: Map<string, number>;
}

/** What a host record says about its pool, the fields of format 1's records included. */
function describeHost({ id, status, expiresAt }: StoredHostRecord): HostRecord {
  const agentPids = new Map<string, number>();
  if (Array.isArray(status.agents)) {
    for (const agent of status.agents as Array<Record<string, unknown> | null>) {
      if (typeof agent?.id === 'string' && typeof agent.pid === 'number') agentPids.set(agent.id, agent.pid);
    }
  }
  return {
    id,
    pid: typeof status.hostPid === 'number' ? status.hostPid : /^\d+$/.test(id) ? Number(id) : undefined,
    machine: typeof status.host === 'string' ? status.host : undefined,
    expiresAt,
    format: status[HOST_RECORD_FORMAT_KEY],
    workspaceRoot: typeof status.workspaceRoot === 'string' ? status.workspaceRoot : undefined,
    agentPids,
  };
}

/** A pool of format 1 whose record has not expired and whose process, when on this machine, runs. */
function isLiveOlderPool(record: HostRecord, now: number): boolean {
  if (typeof record.format === 'number' && record.format >= 2) return false;
  if (record.expiresAt <= now) return false;
  if (!isThisMachine(record) || record.pid === undefined) return true; // only its record can tell
  return isProcessAlive(record.pid);
}

/** Records without a machine name come from builds that ran a file board on its own machine only. */
function isThisMachine(record: HostRecord): boolean {
  return record.machine === undefined || record.machine === os.hostname();
}

function describePool(record: HostRecord): OlderUser {
  const where = record.machine ? ` on ${record.machine}` : '';
  const workspace = record.workspaceRoot ? ` (workspace ${record.workspaceRoot})` : '';
  return `a pool, pid ${record.pid ?? record.id}${where}${workspace}`;
}

interface OlderWayClaim {
  token: string;
  id: string;
  agent: string;
  leaseExpiresAt: number;
}

/** Running claims that hold a per-path lease entry (only format 1 writes those). */
function olderWayClaims(root: string): OlderWayClaim[] {
  const locks = path.join(root, 'locks');
  const tokens = new Set<string>();
  for (const entry of readDirNames(locks)) {
    if (!/^[0-9a-f]{20}$/.test(entry)) continue; // format 2's records are files named by their holder
    for (const token of readDirNames(path.join(locks, entry))) tokens.add(token);
  }
  const claims: OlderWayClaim[] = [];
  for (const token of tokens) {
    const parsed = parseName('running', token);
    const leaseExpiresAt = mtimeOf(path.join(root, 'running', token));
    if (parsed && leaseExpiresAt !== undefined) claims.push({ token, id: parsed.id, agent: parsed.agent!, leaseExpiresAt });
  }
  return claims;
}

/**
 * A claim whose pool recorded itself on this machine (its agents are named h<pool pid>-a<n>) and
 * whose pool and agent processes have both exited: nobody renews its lease any more.
 */
function isKnownDeadClaim(claim: OlderWayClaim, hosts: HostRecord[]): boolean {
  const poolPid = /^h(\d+)-/.exec(claim.agent)?.[1];
  const pool = hosts.find((record) => record.pid !== undefined && String(record.pid) === poolPid);
  if (!pool || !isThisMachine(pool)) return false;
  const agentPid = pool.agentPids.get(claim.agent);
  return !isProcessAlive(pool.pid!) && (agentPid === undefined || !isProcessAlive(agentPid));
}

function describeClaim(claim: OlderWayClaim): OlderUser {
  return `task ${claim.id} claimed by agent ${claim.agent} (lease until ${new Date(claim.leaseExpiresAt).toISOString()})`;
}

function mtimeOf(file: string): number | undefined {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  return stat ? Math.round(stat.mtimeMs) : undefined;
}
