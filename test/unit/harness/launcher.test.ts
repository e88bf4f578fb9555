// The integration launcher's self-test: a deliberately failing suite makes the run fail with the
// test's name and a stack, and a deliberately hanging suite (which also starts a detached process
// of its own) times out, exits non-zero, and leaves no process behind. Real code-server + Chromium.
//   node scripts/run-unit-tests.js test/unit/harness/launcher.test.ts
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const LAUNCHER = path.join(ROOT, 'test', 'harness', 'integration.ts');

interface LauncherResult {
  code: number | null;
  output: string;
  elapsedMs: number;
}

/** Runs the launcher on one ad-hoc suite file and collects everything it prints. */
function runLauncher(suite: string, extraArgs: string[]): Promise<LauncherResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', LAUNCHER, '--suite', suite, ...extraArgs], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, elapsedMs: Date.now() - started }));
  });
}

/** Command lines of live processes that mention this path. */
function processesMentioning(needle: string): string[] {
  const listing = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return listing.split('\n').filter((line) => line.includes(needle) && !line.includes('ps -eo'));
}

describe('integration launcher', { timeout: 10 * 60_000 }, () => {
  it('a failing suite makes the run fail, naming the test and its stack', async () => {
    const result = await runLauncher('test/harness-fixtures/failing/failing.test.ts', ['--timeout', '180000']);
    assert.notEqual(result.code, 0, result.output);
    assert.match(result.output, /fails with an assertion/);
    assert.match(result.output, /deliberate failure/);
    assert.match(result.output, /failing\.test\.ts/, 'the stack points at the suite file');
    assert.match(result.output, /1 passed, 1 failed/, result.output);
  });

  it('a hanging suite times out, exits non-zero and leaves no process alive', async () => {
    const result = await runLauncher('test/harness-fixtures/hanging/hanging.test.ts', ['--timeout', '60000']);
    assert.notEqual(result.code, 0, result.output);
    assert.match(result.output, /timed out after 60s; test still running: .*never finishes/, result.output);
    assert.match(result.output, /all its processes ended/, result.output);
    const workspace = /workspace (\/\S+\/workspace)/.exec(result.output)?.[1];
    assert.ok(workspace, `the launcher names its workspace:\n${result.output}`);
    assert.deepEqual(processesMentioning(workspace), [], 'nothing started by the run survives it');
    // Generous bound: the timeout plus start-up and teardown on a loaded 2-core machine.
    assert.ok(result.elapsedMs < 240_000, `took ${result.elapsedMs} ms`);
  });
});
