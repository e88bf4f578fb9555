import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ResourceLog } from '../../../src/core/metrics';
import type { PoolStats } from '../../../src/core/pool/types';
import { buildRunReport, renderHtml, renderMarkdown, renderRunReport } from '../../../src/core/report';
import { makeBoard, T0 } from '../metrics/helpers';
import { over } from '../patch/place';

const repoRoot = path.join(__dirname, '..', '..', '..');
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function poolStats(cpu: number, rss: number): PoolStats {
  return {
    hostPid: process.pid, boardRoot: '', mode: 'pool', running: true, minAgents: 0, maxAgents: 2, busy: 2, idle: 0, total: 2,
    agents: [
      { id: 'agent-1', state: 'busy', tasksDone: 0, tasksFailed: 0, startedAt: T0, cpuPercent: cpu, rssBytes: rss },
      { id: 'agent-2', state: 'busy', tasksDone: 0, tasksFailed: 0, startedAt: T0, cpuPercent: cpu / 2, rssBytes: rss / 2 },
    ],
    tasksDone: 0, tasksFailed: 0, busyMs: 0, startedAt: T0, limiters: [],
    system: { cpuPercent: 70, totalMemBytes: 8 * 2 ** 30, availableMemBytes: 6 * 2 ** 30 },
  };
}

/**
 * A finished two-agent run: two tasks done side by side (30 s and 60 s in 60 s of wall time), one
 * retried once then done, one dead after a permanent failure; resource figures recorded meanwhile.
 */
function finishedRun() {
  const made = makeBoard({ retry: { baseMs: 1_000, jitter: 0 } });
  cleanups.push(made.cleanup);
  const { board, clock } = made;
  board.post({ title: 'Fix | the <script>alert(1)</script> parser' });
  board.post({ title: 'Update docs' });
  const first = board.claim({ agent: 'agent-1' })!;
  const second = board.claim({ agent: 'agent-2' })!;
  const log = new ResourceLog(board.root, { windowMs: 5_000 });
  log.record(poolStats(150, 300 * 2 ** 20), clock.now);
  clock.now += 2_000;
  log.record(poolStats(40, 500 * 2 ** 20), clock.now); // the peak memory lands inside a window
  clock.now += 28_000;
  log.record(poolStats(10, 100 * 2 ** 20), clock.now);
  log.flush();
  board.complete(first, { summary: 'parser fixed', executor: 'command', durationMs: 30_000, files: [] });
  clock.now += 30_000;
  board.complete(second, { summary: 'docs updated', executor: 'claude', durationMs: 60_000, files: [] });

  board.post({ title: 'Flaky test' });
  let claim = board.claim({ agent: 'agent-1' })!;
  clock.now += 1_000;
  board.fail(claim, 'timeout after 1s');
  clock.now += 2_000;
  claim = board.claim({ agent: 'agent-2' })!;
  clock.now += 1_000;
  board.complete(claim, { summary: 'passed on retry', executor: 'command', durationMs: 1_000, files: [] });

  const doomed = board.post({ title: 'Impossible' });
  claim = board.claim({ agent: 'agent-1' })!;
  clock.now += 500;
  board.fail(claim, 'no such file: src/missing.ts', { permanent: true });
  return { ...made, doomed };
}

describe('run report', () => {
  it('gathers tasks, durations, failures, retries, parallelism and resource peaks from a board', async () => {
    const { board, clock, doomed } = finishedRun();
    const report = (await buildRunReport(over(board), { now: clock.now }));
    const s = report.summary;
    assert.equal(s.done, 3);
    assert.equal(s.dead, 1);
    assert.equal(s.retries, 1);
    assert.equal(s.failedAttempts, 2);
    assert.equal(s.peakParallelism, 2);
    assert.equal(s.taskMs, 30_000 + 60_000 + 1_000 + 1_000 + 500);
    assert.equal(s.wallMs, clock.now - T0);
    assert.equal(s.peaks.agentCpuPercent, 150);
    assert.equal(s.peaks.agentRssBytes, 500 * 2 ** 20);
    assert.equal(s.peaks.totalRssBytes, 750 * 2 ** 20);
    assert.equal(s.peaks.agents, 2);
    assert.ok(report.hasResources);

    assert.deepEqual(report.counts.done, 3);
    assert.equal(report.tasks[0].status, 'dead', 'problems are listed first');
    assert.equal(report.tasks[0].lastError, 'no such file: src/missing.ts');
    const docs = report.tasks.find((task) => task.title === 'Update docs')!;
    assert.equal(docs.busyMs, 60_000);
    assert.equal(docs.executor, 'claude');
    assert.equal(docs.summary, 'docs updated');
    assert.deepEqual(report.failures.map((failure) => [failure.title, failure.attempt, failure.kind, failure.permanent]), [
      ['Flaky test', 1, 'failed', false],
      ['Impossible', 1, 'failed', true],
    ]);
    assert.deepEqual(report.deadLetters.map((letter) => letter.taskId), [doomed.id]);
    assert.deepEqual(report.agents.map((agent) => [agent.agent, agent.attempts, agent.done, agent.failed]), [
      ['agent-1', 3, 1, 2],
      ['agent-2', 2, 2, 0],
    ]);
  });

  it('renders Markdown with every section and table cells that cannot break the table', async () => {
    const { board, clock } = finishedRun();
    const markdown = renderMarkdown((await buildRunReport(over(board), { now: clock.now })));
    for (const heading of ['# Agent Swarm run report', '## Summary', '## Resource peaks', '## Throughput per minute', '## Agents', '## Tasks', '## Failures and retries', '## Dead-letter queue']) {
      assert.ok(markdown.includes(`\n${heading}\n`) || markdown.startsWith(`${heading}\n`), `has ${heading}`);
    }
    assert.match(markdown, /\| Average parallelism \| 1\.\d\d \(sum of task times ÷ wall time\) \|/);
    assert.match(markdown, /\| Memory of one agent \| 500 MB \|/);
    assert.ok(markdown.includes('Fix \\| the &lt;script&gt;alert(1)&lt;/script&gt; parser'));
    // Every table row has as many cells as its header.
    const tableLines = markdown.split('\n').filter((line) => line.startsWith('| '));
    for (const line of tableLines) assert.ok(line.endsWith(' |'), line);
  });

  it('renders self-contained HTML: no script, no remote URL, markup in titles escaped, a chart', async () => {
    const { board, clock } = finishedRun();
    const html = renderHtml((await buildRunReport(over(board), { now: clock.now })));
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.ok(!/<script/i.test(html), 'no script element');
    assert.ok(!/(src|href)\s*=\s*["']?https?:/i.test(html), 'no remote resource');
    assert.ok(html.includes('Fix | the &lt;script&gt;alert(1)&lt;/script&gt; parser'));
    assert.match(html, /<svg role="img"[^>]*>.*<rect class="bar-done"/s);
    assert.match(html, /<td class="status-dead">dead<\/td>/);
    const timeline = /<svg role="img" aria-label="Agent timeline[^>]*>(.*?)<\/svg>/s.exec(html)?.[1] ?? '';
    assert.equal((timeline.match(/<rect /g) ?? []).length, 5, 'one bar per attempt');
    assert.equal((timeline.match(/class="outcome-dead"/g) ?? []).length, 1);
    assert.equal((timeline.match(/class="lane"/g) ?? []).length, 2, 'one lane per agent');
    assert.ok(html.includes("default-src 'none'"));
  });

  it('says so when a board has no tasks and no resource figures', async () => {
    const made = makeBoard();
    cleanups.push(made.cleanup);
    const markdown = (await renderRunReport(over(made.board), 'markdown', { now: T0 }));
    assert.ok(markdown.includes('The board has no tasks.'));
    assert.ok(markdown.includes('No pool resource figures were recorded'));
    assert.ok(markdown.includes('| Average parallelism | – (sum of task times ÷ wall time) |'));
  });

  it('swarm report prints Markdown and writes HTML with --out', () => {
    const { root, dir } = finishedRun();
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src', 'cli', 'main.ts'), '--board', root, ...args], {
        cwd: repoRoot, // where tsx resolves; the board is named by --board
        encoding: 'utf8',
        env: { ...process.env, SWARM_BOARD: '' },
      });
    const printed = run(['report']);
    assert.equal(printed.status, 0, printed.stderr);
    assert.ok(printed.stdout.startsWith('# Agent Swarm run report'));
    assert.ok(printed.stdout.includes('## Dead-letter queue'));

    const out = path.join(dir, 'reports', 'run.html');
    const written = run(['report', '--out', out]);
    assert.equal(written.status, 0, written.stderr);
    assert.equal(written.stdout.trim(), `Report written to ${out}`);
    assert.ok(fs.readFileSync(out, 'utf8').startsWith('<!DOCTYPE html>'), 'format follows the .html extension');

    const forced = run(['report', '--html']);
    assert.ok(forced.stdout.startsWith('<!DOCTYPE html>'));
    const bad = run(['report', '--html', '--markdown']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /only one of --html, --markdown and --json/);

    const json = run(['report', '--json']);
    assert.equal(json.status, 0, json.stderr);
    const data = JSON.parse(json.stdout) as { summary: { done: number; dead: number }; tasks: unknown[] };
    assert.deepEqual([data.summary.done, data.summary.dead, data.tasks.length], [3, 1, 4]);
  });
});
