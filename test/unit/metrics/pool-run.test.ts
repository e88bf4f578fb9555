// Metrics of a real run: an AgentPool of child-process agents runs shell-command tasks on a real
// board while a MetricsFeed follows it and the resource recorder writes the board's resource log;
// the dashboard's figures and the report must describe what really happened.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { MetricsFeed, readResourceLog, recordPoolResources, type MetricsSnapshot } from '../../../src/core/metrics';
import { AgentPool } from '../../../src/core/pool';
import { buildRunReport, renderMarkdown } from '../../../src/core/report';
import { over } from '../patch/place';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-metrics-pool-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function agentBundle(): string {
  const outfile = path.join(dir, 'bundle', 'agent.js');
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'esbuild'), [
    path.join(REPO_ROOT, 'src', 'agent', 'main.ts'),
    '--bundle',
    '--platform=node',
    '--target=node20',
    '--log-level=warning',
    `--outfile=${outfile}`,
  ]);
  return outfile;
}

describe('metrics of a real pool run', () => {
  it('charts the parallel run, its failure and its resources, and the report agrees', { timeout: 120_000 }, async () => {
    const board = FileBoard.open({ root: path.join(dir, 'workspace', '.swarm'), durable: false, retry: { baseMs: 100, capMs: 200, jitter: 0 } });
    const titles = Array.from({ length: 8 }, (_, i) => `sleep task ${i + 1}`);
    board.postMany([...titles.map((title) => ({ title })), { title: 'fail on purpose', maxAttempts: 2 }]);
    const pool = new AgentPool({
      board,
      workspaceRoot: path.join(dir, 'workspace'),
      // Each task sleeps 0.6 s; the one titled "fail…" exits 3 (a failed attempt, then dead).
      executor: { type: 'command', command: 'sleep 0.6; case {title} in fail*) exit 3;; esac' },
      isolation: 'none',
      maxAgents: 3,
      untilEmpty: true,
      agentScript: agentBundle(),
    });
    let latest: MetricsSnapshot | undefined;
    const feed = new MetricsFeed({ board: over(board), pool, onSnapshot: (snapshot) => (latest = snapshot), pollMs: 100 });
    const recorder = recordPoolResources(pool, board.root, { windowMs: 500 });
    try {
      await pool.start();
      await pool.whenDone();
      await new Promise((resolve) => setTimeout(resolve, 800)); // the last events and snapshot
    } finally {
      recorder.dispose();
      feed.dispose();
      await pool.stop({ graceMs: 0 });
    }
    const snapshot = feed.collector.snapshot();
    assert.ok(latest, 'snapshots were delivered');
    const summary = snapshot.summary;
    assert.equal(summary.done, 8);
    assert.equal(summary.dead, 1);
    assert.equal(summary.retries, 1);
    assert.ok(summary.peakParallelism >= 2, `peak parallelism ${summary.peakParallelism}`);
    assert.ok(summary.peakParallelism <= 3);
    // 10 attempts of ≥ 0.6 s on 3 agents: well above 1× even on a loaded machine.
    assert.ok(summary.taskMs >= 10 * 600, `sum of task times ${summary.taskMs}`);
    assert.ok(summary.averageParallelism > 1.3, `parallelism ${summary.averageParallelism.toFixed(2)}`);
    const lanes = new Set(snapshot.timeline.map((bar) => bar.agent));
    assert.ok(lanes.size >= 2 && lanes.size <= 3, `${lanes.size} timeline lanes`);
    assert.equal(snapshot.timeline.length, 10);
    assert.deepEqual(snapshot.timeline.filter((bar) => bar.outcome !== 'done').map((bar) => bar.outcome).sort(), ['dead', 'failed']);
    assert.deepEqual(snapshot.deadLetters.map((letter) => letter.title), ['fail on purpose']);
    assert.ok(snapshot.agents.length >= 1, 'resource series of the agents');
    assert.ok(snapshot.summary.peaks.agentRssBytes > 10 * 2 ** 20, `agent memory peak ${snapshot.summary.peaks.agentRssBytes}`);
    assert.deepEqual(feed.collector.queueCounts(), { pending: 0, running: 0, delayed: 0 });

    const samples = readResourceLog(board.root);
    assert.ok(samples.length >= 1, 'the resource log was written');
    const report = (await buildRunReport(over(board)));
    assert.equal(report.summary.done, 8);
    assert.ok(report.hasResources);
    assert.ok(report.summary.peaks.agentRssBytes > 10 * 2 ** 20);
    assert.ok(Math.abs(report.summary.averageParallelism - summary.averageParallelism) < 0.05, `${report.summary.averageParallelism} vs ${summary.averageParallelism}`);
    assert.match(renderMarkdown(report), /\| fail on purpose \(t[0-9a-z]+\) \| 2 \|/);
    board.close();
  });
});
