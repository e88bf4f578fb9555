// okExitCodes (issue 15): linters exit 1 when problems remain after writing their fixes; such an
// exit still produces a result, through a preset inferred from the command or set explicitly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createExecutor, parseExecutorConfig } from '../../../src/core/executors';
import { inferOkExitCodePreset, OK_EXIT_CODE_PRESETS } from '../../../src/core/executors/exitCodes';
import { ExecutorError } from '../../../src/core/executors/types';
import { makeContext, makeTask, tempDir } from './helpers';

/** A fake linter named `name` in its own bin folder: writes its fix, then exits with `code`. */
function fakeLinter(name: string, code: number): { bin: string; env: Record<string, string> } {
  const bin = tempDir('swarm-bin-');
  const file = path.join(bin, name);
  fs.writeFileSync(file, `#!/bin/sh\nfor f in "$@"; do case "$f" in -*) ;; *) echo fixed >> "$f";; esac; done\nexit ${code}\n`);
  fs.chmodSync(file, 0o755);
  return { bin, env: { PATH: `${bin}:${process.env.PATH}` } };
}

test('the tool a template runs is recognised through npx, node_modules paths and env assignments; compound commands are not', () => {
  assert.equal(inferOkExitCodePreset('eslint --fix {files}'), 'eslint');
  assert.equal(inferOkExitCodePreset('npx eslint --fix {files}'), 'eslint');
  assert.equal(inferOkExitCodePreset('pnpm exec ruff check --fix {files}'), 'ruff');
  assert.equal(inferOkExitCodePreset('NODE_OPTIONS=--max-old-space-size=4096 node node_modules/eslint/bin/eslint.js --fix {files}'), 'eslint');
  assert.equal(inferOkExitCodePreset('/usr/bin/node /x/node_modules/stylelint/bin/stylelint.mjs --fix {files}'), 'stylelint');
  assert.equal(inferOkExitCodePreset('python -m ruff check --fix {files}'), 'ruff');
  assert.equal(inferOkExitCodePreset('eslint --fix {files} || true'), undefined);
  assert.equal(inferOkExitCodePreset('tsc --noEmit'), undefined);
  assert.equal(inferOkExitCodePreset('make lint'), undefined);
});

test('eslint exiting 1 after writing fixes is a result (preset inferred), exit 2 is a failure', async () => {
  const linter = fakeLinter('eslint', 1);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'a.js'), 'x\n');
  const context = makeContext(dir, makeTask({ files: ['a.js'] }));
  await createExecutor({ type: 'command', command: 'eslint --fix {files}', env: linter.env }).execute(context);
  assert.equal(fs.readFileSync(path.join(dir, 'a.js'), 'utf8'), 'x\nfixed\n');
  assert.match(context.output(), /exit 1 still counts as a result \(the eslint preset/);

  const broken = fakeLinter('eslint', 2);
  await assert.rejects(createExecutor({ type: 'command', command: 'eslint --fix {files}', env: broken.env }).execute(makeContext(dir, makeTask({ files: ['a.js'] }))), (error: unknown) => {
    assert.ok(error instanceof ExecutorError);
    assert.match(error.message, /The command failed \(exit 2\)/);
    return true;
  });
});

test('okExitCodes set explicitly: a list, a preset name, or [] to turn the inferred preset off', async () => {
  const linter = fakeLinter('mylint', 3);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'a.js'), 'x\n');
  await createExecutor({ type: 'command', command: 'mylint {files}', env: linter.env, okExitCodes: [3] }).execute(makeContext(dir, makeTask({ files: ['a.js'] })));
  await assert.rejects(createExecutor({ type: 'command', command: 'mylint {files}', env: linter.env }).execute(makeContext(dir, makeTask({ files: ['a.js'] }))), /\(exit 3\)/);

  const stylelint = fakeLinter('stylelint', 2);
  await createExecutor({ type: 'command', command: 'stylelint --fix {files}', env: stylelint.env }).execute(makeContext(dir, makeTask({ files: ['a.js'] })));
  const eslint = fakeLinter('eslint', 1);
  await assert.rejects(createExecutor({ type: 'command', command: 'eslint --fix {files}', env: eslint.env, okExitCodes: [] }).execute(makeContext(dir, makeTask({ files: ['a.js'] }))), /\(exit 1\)/);
  await createExecutor({ type: 'command', command: 'sh -c "exit 1"', okExitCodes: 'ruff' }).execute(makeContext(dir));
  assert.deepEqual(OK_EXIT_CODE_PRESETS.stylelint, [2]);
});

test('a bad okExitCodes is refused with the field and the accepted forms', () => {
  assert.throws(() => parseExecutorConfig({ type: 'command', command: 'x', okExitCodes: 'pylint' }), /okExitCodes: must be a list of exit codes like \[1\], or one of eslint, prettier, ruff/);
  assert.throws(() => parseExecutorConfig({ type: 'command', command: 'x', okExitCodes: [0.5] }), /okExitCodes/);
});
