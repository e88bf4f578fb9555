// Finding what an agent left behind. Executors start their commands in process groups of their own
// (so a cancel can end them as a whole), which means an agent killed with SIGKILL leaves them
// running, re-parented to init, outside any tree or group the host knows. Every agent process gets
// SWARM_AGENT_ID in its environment and its children inherit it, so the host finds them by that mark.
import * as fs from 'fs';
import { terminate } from './terminate';
import { hasLinuxProc, listAllPids, readProcStat } from './linux-proc';
import { isSameProcessAlive } from './process-tree';
import { environValues, readRawEnviron } from './marked';

/** Every process a host starts for attempts (agents, their commands, setup commands) carries
 * `SWARM_HOST=<pid>.<start time>`: after a host died, a later pool finds what it left by this mark. */
export const HOST_MARK = 'SWARM_HOST';

/** The mark every process an agent starts carries (its commands inherit it). */
const AGENT_MARK = 'SWARM_AGENT_ID';

let identity: string | undefined;

/** This process as `<pid>.<start ticks>` (the start time tells it from a later process with its pid). */
export function hostIdentity(): string {
  identity ??= `${process.pid}.${hasLinuxProc ? (readProcStat(process.pid)?.startTicks ?? 0) : 0}`;
  return identity;
}

/** Pids of live processes whose environment holds `name=value` (Linux /proc; empty elsewhere). */
export function findProcessesMarked(name: string, value: string): number[] {
  return findProcessesMarkedWith(name, [value]).get(value) ?? [];
}

/**
 * Pids of live processes carrying each of `agentIds` as their SWARM_AGENT_ID, by agent, found in
 * one pass over /proc: each process's environment is read once, whatever the number of agents.
 * Linux only; elsewhere nothing is found.
 */
export function findAgentsProcesses(agentIds: Iterable<string>): Map<string, number[]> {
  return findProcessesMarkedWith(AGENT_MARK, agentIds);
}

/** Pids of live processes whose `name` has each of `values`, by value, in one pass over /proc. */
function findProcessesMarkedWith(name: string, values: Iterable<string>): Map<string, number[]> {
  const found = new Map<string, number[]>([...values].map((value) => [value, []]));
  if (process.platform !== 'linux' || found.size === 0) return found;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return found;
  }
  const nameBytes = Buffer.from(`${name}=`);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const environ = readRawEnviron(pid); // undefined: gone meanwhile, or not ours to read
    if (environ) for (const value of new Set(environValues(environ, nameBytes))) found.get(value)?.push(pid);
  }
  return found;
}

/** Ends every process still carrying one of the agents' marks, with their descendants: one pass over /proc for all of them. */
export async function killAgentsLeftovers(agentIds: Iterable<string>): Promise<Map<string, number[]>> {
  const found = findAgentsProcesses(agentIds);
  const pids = [...found.values()].flat();
  if (pids.length > 0) await terminate({ roots: pids, includeRoots: true }, { graceMs: 0, killWaitMs: 5_000 }).catch(() => undefined);
  return found;
}

/** Ends every process still carrying the agent's mark, with their descendants. */
export async function killAgentLeftovers(agentId: string): Promise<number[]> {
  return (await killAgentsLeftovers([agentId])).get(agentId) ?? [];
}

/**
 * Sweeps of agents' leftovers asked for at about the same moment share one pass over /proc: the
 * agents of a process that ends (or of a pool that stops) end together, and a pass per agent read
 * every process's environment once per agent. A sweep asked for before the next pass starts joins
 * it; a pass starts once the current turn of the event loop is over, so it always looks at /proc
 * after every request it serves was made (after the agent's process was seen to exit).
 */
export class LeftoverSweeper {
  private next: { agentIds: Set<string>; result: Promise<Map<string, number[]>> } | undefined;

  /** `sweepAll` ends the leftovers of the agents given, in one pass (tests count the passes). */
  constructor(private readonly sweepAll: (agentIds: string[]) => Promise<Map<string, number[]>> = killAgentsLeftovers) {}

  /** Ends what `agentId` left running; resolves with the pids ended. */
  sweep(agentId: string): Promise<number[]> {
    this.next ??= this.schedulePass();
    this.next.agentIds.add(agentId);
    return this.next.result.then((found) => found.get(agentId) ?? []);
  }

  private schedulePass(): { agentIds: Set<string>; result: Promise<Map<string, number[]>> } {
    const agentIds = new Set<string>();
    const result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      // Requests from now on need a pass that starts after them.
      this.next = undefined;
      return this.sweepAll([...agentIds]);
    });
    return { agentIds, result };
  }
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
    // Only commands carry a task id: every other process is passed over without parsing its
    // environment (the scan runs at every pool start, over every process of the machine).
    const environ = readRawEnviron(pid);
    if (!environ || environValues(environ, TASK_NAME).length === 0) continue;
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

const TASK_NAME = Buffer.from('SWARM_TASK_ID=');
const HOST_NAME = Buffer.from(`${HOST_MARK}=`);
const AGENT_NAME = Buffer.from(`${AGENT_MARK}=`);


/** The host a command's marks name; a name set twice counts with its last value (as a parsed environment would). */
function hostOf(environ: Buffer): { key: string; pid: number; startTicks?: number } | undefined {
  const mark = /^(\d+)\.(\d+)$/.exec(environValues(environ, HOST_NAME).at(-1) ?? '');
  if (mark) return { key: mark[0], pid: Number(mark[1]), startTicks: Number(mark[2]) || undefined };
  const agent = /^h(\d+)-/.exec(environValues(environ, AGENT_NAME).at(-1) ?? '');
  return agent ? { key: agent[1], pid: Number(agent[1]) } : undefined;
}
