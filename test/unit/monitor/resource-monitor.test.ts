// The resource monitor against real processes: an "agent" whose grandchildren allocate memory and
// spin the CPU, measured as one tree; limits, events and the safe-spawn check.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPsUsageReader, ResourceMonitor, type MonitorEvent } from '../../../src/core/monitor';

const MIB = 1024 * 1024;
const started: ChildProcess[] = [];
const tempDirs: string[] = [];

after(() => {
  for (const child of started) killGroup(child);
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/**
 * An agent-like tree: a node process that starts one grandchild holding `allocMb` of touched memory
 * and (optionally) one spinning a core. Resolves once both are running.
 */
async function startTree(options: { allocMb: number; spin: boolean }): Promise<ChildProcess> {
  const script = `
    const { spawn } = require('child_process');
    const run = (code) => spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'inherit', 'inherit'] });
    run("const b = Buffer.alloc(${options.allocMb} * 1024 * 1024, 1); console.log('allocated'); setInterval(() => b[0]++, 1000);");
    ${options.spin ? `run("console.log('spinning'); for (;;) {}");` : ''}
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!(output.includes('allocated') && (!options.spin || output.includes('spinning')))) {
    if (Date.now() > deadline) throw new Error(`the test tree did not start: ${output}`);
    await sleep(50);
  }
  return child;
}

function collect(monitor: ResourceMonitor): MonitorEvent[] {
  const events: MonitorEvent[] = [];
  monitor.onEvent((event) => events.push(event));
  return events;
}

test('memory and CPU of an agent tree include its grandchildren', { timeout: 90_000 }, async () => {
  const tree = await startTree({ allocMb: 150, spin: true });
  const monitor = new ResourceMonitor({ limits: { agentMemoryBytes: 100 * MIB } });
  const events = collect(monitor);
  monitor.track('agent-1', tree.pid as number);
  await monitor.sampleNow();
  await sleep(1_000);
  const snapshot = await monitor.sampleNow();

  const [agent] = snapshot.agents;
  assert.equal(agent.agentId, 'agent-1');
  assert.equal(agent.pid, tree.pid);
  assert.equal(agent.processCount, 3, 'the agent and its two grandchildren');
  assert.ok(agent.rssBytes >= 150 * MIB, `rss ${Math.round(agent.rssBytes / MIB)} MB includes the 150 MB grandchild`);
  assert.ok(agent.rssBytes < 1024 * MIB, `rss ${Math.round(agent.rssBytes / MIB)} MB`);
  // One core spins; the machine is shared, so expect only a fair share of it.
  assert.ok(agent.cpuPercent >= 20, `cpu ${agent.cpuPercent} % includes the spinning grandchild`);
  assert.ok(agent.cpuPercent <= 100 * os.cpus().length + 1, `cpu ${agent.cpuPercent} %`);
  assert.equal(snapshot.totalAgentRssBytes, agent.rssBytes);
  assert.ok(snapshot.system.totalMemBytes > 0 && snapshot.system.availableMemBytes > 0);
  assert.ok(snapshot.system.cpuPercent >= 0 && snapshot.system.cpuPercent <= 100);

  const overMemory = events.filter((event) => event.type === 'agent-over-memory');
  assert.ok(overMemory.length >= 1, 'the agent over its memory limit is reported');
  assert.deepEqual({ ...overMemory[0], rssBytes: 0 }, { type: 'agent-over-memory', agentId: 'agent-1', pid: tree.pid, rssBytes: 0, limitBytes: 100 * MIB });
  assert.ok(events.some((event) => event.type === 'snapshot'));
  killGroup(tree);
});

test('an agent under its limit is not reported, and a gone agent counts zero', { timeout: 60_000 }, async () => {
  const tree = await startTree({ allocMb: 10, spin: false });
  const monitor = new ResourceMonitor({ limits: { agentMemoryBytes: 500 * MIB } });
  const events = collect(monitor);
  monitor.track('small', tree.pid as number);
  const first = await monitor.sampleNow();
  assert.ok(first.agents[0].rssBytes > 10 * MIB);
  assert.equal(events.filter((event) => event.type === 'agent-over-memory').length, 0);

  killGroup(tree);
  const deadline = Date.now() + 10_000;
  let snapshot = await monitor.sampleNow();
  while (snapshot.agents[0].processCount > 0 && Date.now() < deadline) {
    await sleep(100);
    snapshot = await monitor.sampleNow();
  }
  assert.deepEqual({ ...snapshot.agents[0], cpuPercent: 0 }, { agentId: 'small', pid: tree.pid, cpuPercent: 0, rssBytes: 0, processCount: 0 });
  monitor.untrack('small');
  assert.deepEqual((await monitor.sampleNow()).agents, []);
});

test('canSpawn refuses when the agents together are over totalMemoryBytes', { timeout: 60_000 }, async () => {
  const tree = await startTree({ allocMb: 20, spin: false });
  const monitor = new ResourceMonitor({ limits: { totalMemoryBytes: 1 * MIB } });
  const events = collect(monitor);
  assert.deepEqual(monitor.canSpawn(), { ok: true }, 'nothing measured yet');
  monitor.track('a', tree.pid as number);
  await monitor.sampleNow();
  await monitor.sampleNow();
  const verdict = monitor.canSpawn();
  assert.equal(verdict.ok, false);
  assert.match(verdict.ok ? '' : verdict.reason, /agents use .* MB of memory together/);
  const warnings = events.filter((event) => event.type === 'warning');
  assert.equal(warnings.length, 1, 'one warning per crossing, not one per sample');
  monitor.untrack('a');
  await monitor.sampleNow();
  assert.deepEqual(monitor.canSpawn(), { ok: true }, 'allowed again once under the limit');
  killGroup(tree);
});

test('canSpawn refuses when the machine has less memory available than minFreeMemoryBytes', async () => {
  const real = new ResourceMonitor({ limits: { minFreeMemoryBytes: 1024 * 1024 * MIB } }); // 1 TiB
  const verdict = real.canSpawn();
  assert.equal(verdict.ok, false);
  assert.match(verdict.ok ? '' : verdict.reason, /of memory is available, below the 1024 GB kept free/);
  assert.deepEqual(new ResourceMonitor({ limits: { minFreeMemoryBytes: 1 } }).canSpawn(), { ok: true });
});

test('procRoot: a machine low on memory (crafted meminfo) blocks spawning and warns once per crossing', async () => {
  const procRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-proc-'));
  tempDirs.push(procRoot);
  const writeMeminfo = (availableKb: number): void =>
    fs.writeFileSync(path.join(procRoot, 'meminfo'), `MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:    ${availableKb} kB\n`);
  writeMeminfo(200_000);
  const monitor = new ResourceMonitor({ procRoot, limits: { minFreeMemoryBytes: 500 * MIB } });
  const events = collect(monitor);
  const snapshot = await monitor.sampleNow();
  assert.equal(snapshot.system.totalMemBytes, 8_000_000 * 1024);
  assert.equal(snapshot.system.availableMemBytes, 200_000 * 1024);
  assert.equal(monitor.canSpawn().ok, false);
  await monitor.sampleNow();
  assert.equal(events.filter((event) => event.type === 'warning').length, 1);

  writeMeminfo(4_000_000);
  assert.deepEqual(monitor.canSpawn(), { ok: true }, 'memory is read fresh by canSpawn');
  await monitor.sampleNow();
  writeMeminfo(100_000);
  await monitor.sampleNow();
  assert.equal(events.filter((event) => event.type === 'warning').length, 2, 'a new crossing warns again');
});

test('the CPU ceiling blocks spawning when the machine is busy', async () => {
  const monitor = new ResourceMonitor({ limits: { maxCpuPercent: 0 } });
  await monitor.sampleNow();
  const verdict = monitor.canSpawn();
  assert.equal(verdict.ok, false);
  assert.match(verdict.ok ? '' : verdict.reason, /CPU is .* busy, at or over the 0 % ceiling/);
  assert.deepEqual(new ResourceMonitor({ limits: { maxCpuPercent: 101 } }).canSpawn(), { ok: true });
});

test('start() samples on its interval into a bounded history; stop() ends it', { timeout: 30_000 }, async () => {
  const monitor = new ResourceMonitor({ intervalMs: 50, historySize: 5 });
  monitor.track('self', process.pid);
  const events = collect(monitor);
  monitor.start();
  const deadline = Date.now() + 20_000;
  while (events.filter((event) => event.type === 'snapshot').length < 8 && Date.now() < deadline) await sleep(25);
  monitor.stop();
  const count = events.length;
  const history = monitor.history();
  assert.equal(history.length, 5);
  assert.ok(history.every((snapshot, index) => index === 0 || snapshot.at >= history[index - 1].at), 'oldest first');
  assert.equal(monitor.latest(), history[4]);
  assert.equal(history[4].agents[0].pid, process.pid);
  assert.ok(history[4].agents[0].rssBytes > 10 * MIB);
  await sleep(300);
  assert.equal(events.length, count, 'no samples after stop()');
});

test('concurrent sampleNow calls share one sample', async () => {
  const monitor = new ResourceMonitor();
  const [a, b] = await Promise.all([monitor.sampleNow(), monitor.sampleNow()]);
  assert.equal(a, b);
  assert.equal(monitor.history().length, 1);
});

test('the portable ps reader sees the same tree as the /proc reader', { timeout: 60_000 }, async () => {
  const tree = await startTree({ allocMb: 120, spin: false });
  const viaProc = new ResourceMonitor();
  const viaPs = new ResourceMonitor({ reader: createPsUsageReader({ usePs: true }) });
  viaProc.track('a', tree.pid as number);
  viaPs.track('a', tree.pid as number);
  const [procAgent] = (await viaProc.sampleNow()).agents;
  const [psAgent] = (await viaPs.sampleNow()).agents;
  assert.equal(psAgent.processCount, procAgent.processCount);
  assert.equal(psAgent.processCount, 2);
  assert.ok(psAgent.rssBytes >= 120 * MIB, `ps sees ${Math.round(psAgent.rssBytes / MIB)} MB`);
  assert.ok(Math.abs(psAgent.rssBytes - procAgent.rssBytes) < 0.2 * procAgent.rssBytes, `ps ${psAgent.rssBytes} vs /proc ${procAgent.rssBytes}`);
  killGroup(tree);
});
