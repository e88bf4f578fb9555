// Without a sandbox: what an attempt changed outside its worktree is found by comparing
// fingerprints taken before and after it (the checkout; the repository's config and hooks).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { describeEscapes, guardIsolation, takeFingerprint } from '../../../src/core/sandbox/escapeGuard';
import { fakeTask, git, makeRepo } from '../worktree/helpers';

test('fingerprints see checkout edits (tracked, already dirty, new), config and hook changes, and nothing else', async () => {
  const repo = makeRepo({ 'src/a.txt': 'one\n', 'src/b.txt': 'two\n' });
  try {
    repo.write('src/b.txt', 'two, edited by the user\n'); // dirty before the attempt
    const targets = { checkout: repo.root, gitCommonDir: path.join(repo.root, '.git') };
    const before = await takeFingerprint(targets);
    assert.deepEqual(describeEscapes(before, await takeFingerprint(targets), targets), [], 'nothing changed: no warning');

    repo.write('src/a.txt', 'escaped\n');
    repo.write('src/b.txt', 'two, edited again\n');
    repo.write('new.txt', 'x\n');
    git(repo.root, ['config', 'core.hooksPath', '/tmp/evil-hooks']);
    fs.writeFileSync(path.join(repo.root, '.git', 'hooks', 'pre-commit'), '#!/bin/sh\necho evil\n', { mode: 0o755 });
    const warnings = describeEscapes(before, await takeFingerprint(targets), targets);
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(warnings[0], /^Files in your checkout .* changed while this task ran without a sandbox: new\.txt, src\/a\.txt, src\/b\.txt\. Its commands may have written them, or you \(or another program\) edited them meanwhile/);
    assert.match(warnings[1], /git configuration .* changed .*core\.hooksPath/);
    assert.match(warnings[2], /git hooks .* changed .*: pre-commit\. Check them before your next commit\./);
  } finally {
    repo.cleanup();
  }
});

test('a guarded worktree isolation puts the warnings into the collected result; a clean attempt has none', async () => {
  const repo = makeRepo({ 'src/a.txt': 'one\n' });
  try {
    const inner = createWorktreeIsolation({ workspaceRoot: repo.root });
    const warned: string[] = [];
    const isolation = guardIsolation(inner, { checkout: repo.root, gitCommonDir: path.join(repo.root, '.git') }, (message) => warned.push(message));
    const artifacts = fs.mkdtempSync(path.join(path.dirname(repo.root), 'artifacts-'));

    const clean = fakeTask({ files: ['src/a.txt'] });
    const cleanPrepared = await isolation.prepare(clean, 's1', artifacts);
    fs.writeFileSync(path.join(cleanPrepared.cwd, 'src/a.txt'), 'changed in the slot\n');
    assert.equal((await isolation.collect(clean, 's1', cleanPrepared, artifacts)).warnings, undefined);

    const escaping = fakeTask({ files: ['src/a.txt'] });
    const prepared = await isolation.prepare(escaping, 's1', artifacts);
    fs.writeFileSync(path.join(repo.root, 'src/a.txt'), 'written into the checkout\n');
    const changes = await isolation.collect(escaping, 's1', prepared, artifacts);
    assert.equal(changes.warnings?.length, 1);
    assert.match(changes.warnings?.[0] ?? '', /src\/a\.txt/);

    const failing = fakeTask();
    const failed = await isolation.prepare(failing, 's1', artifacts);
    git(repo.root, ['config', 'core.fsmonitor', 'evil']);
    await isolation.abandon(failing, 's1', failed, 'it failed');
    assert.equal(warned.length, 1);
    assert.match(warned[0], new RegExp(`^Task ${failing.id}: The repository's git configuration`));
  } finally {
    repo.cleanup();
  }
});
