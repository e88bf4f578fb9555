// Pool test helpers: a real board in a temp folder, the agent bundled once per test file with
// esbuild (the same bundle `npm run build` makes), and waiting helpers with generous bounds.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { AgentPool, type PoolEvent, type PoolOptions } from '../../../src/core/pool';
import type { AgentInit } from '../../../src/core/pool/protocol';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
let bundledAgent: string | undefined;

/** Bundles src/agent/main.ts to a temp file (once per process) and returns its path. */
export function agentBundle(): string {
  if (bundledAgent) return bundledAgent;
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-agent-bundle-'));
  const outfile = path.join(outDir, 'agent.js');
  const esbuild = path.join(REPO_ROOT, 'node_modules', '.bin', 'esbuild');
  execFileSync(esbuild, [path.join(REPO_ROOT, 'src', 'agent', 'main.ts'), '--bundle', '--platform=node', '--target=node20', '--log-level=warning', `--outfile=${outfile}`]);
  process.on('exit', () => fs.rmSync(outDir, { recursive: true, force: true }));
  bundledAgent = outfile;
  return outfile;
}

export interface PoolFixture {
  dir: string;
  board: FileBoard;
  events: PoolEvent[];
  logs: string[];
  makePool(options: Partial<PoolOptions>): AgentPool;
  cleanup(): Promise<void>;
}

export function poolFixture(): PoolFixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-pool-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false, retry: { baseMs: 50, capMs: 200 } });
  const pools: AgentPool[] = [];
  const events: PoolEvent[] = [];
  const logs: string[] = [];
  return {
    dir,
    board,
    events,
    logs,
    makePool(options) {
      const pool = new AgentPool({
        board,
        workspaceRoot: dir,
        executor: { type: 'command', command: 'true' },
        isolation: 'none',
        agentScript: agentBundle(),
        log: (line) => logs.push(line),
        ...options,
      });
      pool.onEvent((event) => {
        if (event.type !== 'stats') events.push(event);
      });
      pools.push(pool);
      return pool;
    },
    async cleanup() {
      await Promise.all(pools.map((pool) => pool.stop({ graceMs: 0 })));
      board.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The pid an agent reported when it started (its agent process), from the pool's events. */
export function pidOf(f: PoolFixture, agentId: string): number | undefined {
  const event = f.events.find((e) => e.type === 'agent-started' && e.agentId === agentId);
  return event?.type === 'agent-started' ? event.pid : undefined;
}

/** The agent that started a task first, from the pool's events. */
export function startedBy(f: PoolFixture, taskId: string): string | undefined {
  const event = f.events.find((e) => e.type === 'task-started' && e.taskId === taskId);
  return event?.type === 'task-started' ? event.agentId : undefined;
}

export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 30_000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is gone for our purposes.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The init of an agent process driven by hand (no pool): a `true` command on the board at
 * `boardRoot`, no isolation; `extra` adds to it (exitWhenTold, another slot...).
 */
export function plainAgentInit(agentId: string, slot: string, boardRoot: string, workspaceRoot: string, extra: Partial<AgentInit> = {}): AgentInit {
  return {
    agentId,
    slot,
    board: boardRoot,
    workspaceRoot,
    executor: { type: 'command', command: 'true' },
    leaseMs: 30_000,
    isolation: 'none',
    isolationKind: 'none',
    hostModels: false,
    maxLogBytes: 1024 * 1024,
    ...extra,
  };
}
