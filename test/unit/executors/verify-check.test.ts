// The verify check before a run: its message's first line alone tells the user what failed (the
// editor shows only that line): the command, how it ended, the first line of its output.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { verifyCheckTask, verifyFailsBeforeAnyChange } from '../../../src/core/executors/verifyCheck';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-verify-check-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function check(verify: string | { command: string; timeoutMs: number }): Promise<string | undefined> {
  return verifyFailsBeforeAnyChange(verify, { task: verifyCheckTask(), cwd: dir, signal: new AbortController().signal, log: () => undefined });
}

describe('verify check before the run', () => {
  it('passes quietly when the verify passes', async () => {
    assert.equal(await check('true'), undefined);
  });

  it('a failure: the first line names the command, its exit and its first output line; the output and the fix follow', async () => {
    const message = await check('echo; echo "  FAIL sum(2, 2) gave 0"; echo "1 of 3 failed"; exit 3');
    assert.ok(message);
    const [first, ...rest] = message.split('\n');
    assert.equal(first, 'The verify command fails on your current working state before any change, so every task would fail it: `echo; echo "  FAIL sum(2, 2) gave 0"; echo "1 of 3 failed"; exit 3` (exit 3): FAIL sum(2, 2) gave 0');
    assert.match(rest.join('\n'), /--- last output ---\n[\s\S]*1 of 3 failed/);
    assert.match(rest.at(-1) ?? '', /no task was claimed\.$/);
  });

  it('a silent failure, a multi-line command and a timeout stay one line', async () => {
    assert.equal((await check('exit 1'))?.split('\n')[0].endsWith('`exit 1` (exit 1), no output'), true);
    assert.match((await check('true &&\nfalse'))?.split('\n')[0] ?? '', /`true && false` \(exit 1\), no output$/);
    assert.match((await check({ command: 'echo started; sleep 30', timeoutMs: 300 }))?.split('\n')[0] ?? '', /`echo started; sleep 30` \(timed out after .+\): started$/);
  });
});
