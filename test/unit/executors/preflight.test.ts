// Templates that cannot work are found once, before a run (issue 15).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseExecutorConfig } from '../../../src/core/executors';
import { preflightExecutor, preflightTemplate } from '../../../src/core/executors/preflight';
import { tempDir } from './helpers';

test('working templates pass: placeholders, shell variables, brace expansions, builtins, relative scripts, env assignments', () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.writeFileSync(path.join(dir, 'scripts', 'fix.sh'), '#!/bin/sh\n');
  for (const template of [
    'eslint --fix {files}'.replace('eslint', 'node'),
    'echo ${HOME} {files} > out.txt',
    'cp a.{js,ts} /tmp',
    "awk '{print $1}' {file}",
    'true',
    './scripts/fix.sh {files}',
    'NODE_ENV=production node -e 1 {files}',
    'sh -c \'echo "$SWARM_FILES"\'',
  ]) {
    assert.deepEqual(preflightTemplate(template, { cwd: dir }), [], template);
  }
});

test('an unknown placeholder is refused with the ones that exist and a suggestion', () => {
  const [problem] = preflightTemplate('node x.js {file_list}', { cwd: tempDir() });
  assert.match(problem, /uses \{file_list\}, which is not a placeholder: node x\.js \{file_list\}/);
  assert.match(problem, /Use one of \{files\}, \{file\}.*did you mean \{files\}\?/);
});

test('a quoted placeholder is refused with the fix', () => {
  const [problem] = preflightTemplate('node x.js "{files}"', { cwd: tempDir() });
  assert.match(problem, /puts \{files\} inside quotes.*Remove the quotes/s);
});

test('a program that is not on PATH, or a script path that does not exist, is refused with the fix', () => {
  const dir = tempDir();
  const [missing] = preflightTemplate('eslintt --fix {files}', { cwd: dir });
  assert.match(missing, /runs eslintt, which is not on PATH.*npx eslintt/s);
  const [noScript] = preflightTemplate('./scripts/nope.sh {files}', { cwd: dir });
  assert.match(noScript, /starts \.\/scripts\/nope\.sh, which does not exist/);
  // The executor's own env decides PATH.
  const bin = tempDir('swarm-bin-');
  fs.writeFileSync(path.join(bin, 'mytool'), '#!/bin/sh\n');
  fs.chmodSync(path.join(bin, 'mytool'), 0o755);
  assert.deepEqual(preflightExecutor(parseExecutorConfig({ type: 'command', command: 'mytool {files}', env: { PATH: `${bin}:/usr/bin:/bin` } }), { cwd: dir }), []);
  assert.equal(preflightExecutor(parseExecutorConfig({ type: 'command', command: 'mytool {files}' }), { cwd: dir, env: { PATH: '/usr/bin:/bin' } }).length, 1);
});
