// Finding what an agent left behind. Executors start their commands in process groups of their own
// (so a cancel can end them as a whole), which means an agent killed with SIGKILL leaves them
// running, re-parented to init, outside any tree or group the host knows. Every agent process gets
// SWARM_AGENT_ID in its environment and its children inherit it, so the host finds them by that mark.
import * as fs from 'fs';
import { terminate } from './terminate';
import { hasLinuxProc, listAllPids, readProcStat } from './linux-proc';
import { readEnviron } from './marked';
import { isSameProcessAlive } from './process-tree';

/** Every process a host starts for attempts (agents, their commands, setup commands) carries
 * `SWARM_HOST=<pid>.<start time>`: after a host died, a later pool finds what it left by this mark. */
export const HOST_MARK = 'SWARM_HOST';

let identity: string | undefined;

/** This process as `<pid>.<start ticks>` (the start time tells it from a later process with its pid). */
export function hostIdentity(): string {
  identity ??= `${process.pid}.${hasLinuxProc ? (readProcStat(process.pid)?.startTicks ?? 0) : 0}`;
  return identity;
}

/** Pids of live processes whose environment holds `name=value` (Linux /proc; empty elsewhere). */
export function findProcessesMarked(name: string, value: string): number[] {
  if (process.platform !== 'linux') return [];
  const mark = Buffer.from(`${name}=${value}\0`);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`);
      // The mark either starts the block or follows the NUL that ends the previous variable.
      const index = environ.indexOf(mark);
      if (index === 0 || (index > 0 && environ[index - 1] === 0)) found.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Ends every process still carrying the agent's mark, with their descendants. */
export async function killAgentLeftovers(agentId: string): Promise<number[]> {
  const pids = findProcessesMarked('SWARM_AGENT_ID', agentId);
  if (pids.length === 0) return [];
  await terminate({ roots: pids, includeRoots: true }, { graceMs: 0, killWaitMs: 5_000 }).catch(() => undefined);
  return pids;
}

/**
 * Ends the attempt processes of hosts that died (SIGKILL, the OOM killer): commands live in process
 * groups of their own and only a live host sweeps them, so they would run on, writing into a slot a
 * later task gets. Found by their marks (SWARM_HOST, or an agent id `h<pid>-...` from older hosts)
 * and SWARM_TASK_ID (commands, not agents: an agent whose host died exits by itself, handing its
 * task back). Returns the pids ended. Linux only.
 */
export async function killDeadHostLeftovers(): Promise<number[]> {
  if (!hasLinuxProc) return [];
  const orphans: number[] = [];
  const hostAlive = new Map<string, boolean>();
  for (const pid of listAllPids()) {
    if (pid === process.pid) continue;
    const environ = readEnviron(pid);
    if (!environ?.has('SWARM_TASK_ID')) continue;
    const host = hostOf(environ);
    if (!host) continue;
    let alive = hostAlive.get(host.key);
    if (alive === undefined) {
      alive = host.pid === process.pid || isSameProcessAlive({ pid: host.pid, startTicks: host.startTicks });
      hostAlive.set(host.key, alive);
    }
    if (!alive) orphans.push(pid);
  }
  if (orphans.length > 0) await terminate({ roots: orphans, includeRoots: true }, { graceMs: 0, killWaitMs: 5_000 }).catch(() => undefined);
  return orphans;
}

function hostOf(environ: Map<string, string>): { key: string; pid: number; startTicks?: number } | undefined {
  const mark = /^(\d+)\.(\d+)$/.exec(environ.get(HOST_MARK) ?? '');
  if (mark) return { key: mark[0], pid: Number(mark[1]), startTicks: Number(mark[2]) || undefined };
  const agent = /^h(\d+)-/.exec(environ.get('SWARM_AGENT_ID') ?? '');
  return agent ? { key: agent[1], pid: Number(agent[1]) } : undefined;
}
