// scripts/load.js: the burners really burn CPU, a signal ends all of them, and a load generator
// killed with -9 leaves no burner behind.
//   node scripts/run-unit-tests.js test/unit/harness/load.test.ts
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';

const LOAD = path.resolve(__dirname, '..', '..', '..', 'scripts', 'load.js');
const LINUX_ONLY = process.platform !== 'linux' ? 'reads CPU times from /proc: Linux only' : false;

const started: ChildProcess[] = [];
const burnerPids: number[] = [];
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of burnerPids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** User + system CPU time of a process in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Load {
  child: ChildProcess;
  pids: number[];
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts load.js and waits for its "running" line; returns the burner pids it names. */
async function startLoad(args: string[]): Promise<Load> {
  const child = spawn(process.execPath, [LOAD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => /burners running/.test(output) || child.exitCode !== null, 30_000, 'the burners to start');
  const pids = (/\(pids ([\d ]+)\)/.exec(output)?.[1] ?? '').split(' ').filter(Boolean).map(Number);
  burnerPids.push(...pids);
  return { child, pids, output: () => output, exited };
}

describe('scripts/load.js', { skip: LINUX_ONLY }, () => {
  it('runs two CPU-bound burners by default and ends them all on SIGTERM', async () => {
    const load = await startLoad([]);
    assert.equal(load.pids.length, 2, load.output());
    const before = load.pids.map(cpuTicks);
    // Half a second of CPU each: a burner that sleeps or waits never gets there (generous deadline
    // because other jobs share the two cores).
    await waitFor(() => load.pids.every((pid, i) => cpuTicks(pid) - before[i] >= 50), 60_000, 'each burner to use 0.5 s of CPU');
    load.child.kill('SIGTERM');
    assert.equal(await load.exited, 0, load.output());
    assert.match(load.output(), /load: stopped\n$/);
    assert.deepEqual(load.pids.filter(alive), [], 'no burner survives');
  });

  it('burners end by themselves when the load generator is killed with -9', async () => {
    const load = await startLoad(['--burners', '3']);
    assert.equal(load.pids.length, 3, load.output());
    load.child.kill('SIGKILL');
    await load.exited;
    await waitFor(() => load.pids.every((pid) => !alive(pid)), 30_000, 'the orphaned burners to exit');
  });

  it('--seconds stops it by itself', async () => {
    const load = await startLoad(['--burners', '1', '--seconds', '1']);
    assert.equal(await load.exited, 0, load.output());
    assert.deepEqual(load.pids.filter(alive), []);
  });

  it('refuses a bad argument with a one-line reason and exit 2', () => {
    const result = spawnSync(process.execPath, [LOAD, '--burners', 'two'], { encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^load\.js: --burners wants a whole number of at least 1, got "two"\n/);
  });
});
