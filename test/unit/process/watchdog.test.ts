import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { LineCollector, ProcessJanitor, pidRuns, waitFor } from './helpers';

const janitor = new ProcessJanitor();
afterEach(() => janitor.cleanUp());

interface AgentReport {
  host: number;
  agent: number;
  children: number[];
}

/** host (SIGKILLed by the test) → agent (detached, runs the watchdog) → two children. */
async function startHostWithAgent(mode: 'ipc' | 'no-ipc'): Promise<AgentReport> {
  const out = new LineCollector();
  const host = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'watchdog-host.js'), mode], {
    cwd: path.join(__dirname, '..', '..', '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  janitor.watchPids(host.pid as number);
  host.stdout.setEncoding('utf8');
  host.stdout.on('data', (text: string) => text.split('\n').filter(Boolean).forEach(out.push));
  const [line] = await out.waitForLines(1, 30000);
  const report = JSON.parse(line as string) as AgentReport;
  janitor.watchGroup(report.agent);
  janitor.watchPids(...report.children);
  return report;
}

async function assertAgentEndsWithItsHost(report: AgentReport): Promise<void> {
  // While the host lives, the watchdog (checking every 200 ms) must leave the agent alone.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(pidRuns(report.agent), 'agent keeps running while its host lives');
  assert.ok(report.children.every(pidRuns), 'agent children run while the host lives');

  process.kill(report.host, 'SIGKILL');

  const everyone = [report.agent, ...report.children];
  await waitFor(() => !everyone.some(pidRuns), 10000, `agent and its children to exit (${everyone.filter(pidRuns).join(', ')} left)`);
}

describe('exitWhenParentDies', () => {
  it('ends the agent and its children when the host dies (IPC channel closes)', async () => {
    await assertAgentEndsWithItsHost(await startHostWithAgent('ipc'));
  });

  it('ends the agent and its children when the host dies (no IPC: parent pid check)', async () => {
    await assertAgentEndsWithItsHost(await startHostWithAgent('no-ipc'));
  });
});
