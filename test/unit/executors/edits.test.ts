// Parsing and applying the model's edit blocks on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { applyEditBlocks, parseEditBlocks } from '../../../src/core/executors/model/edits';
import { tempDir } from './helpers';

test('parses fenced SEARCH/REPLACE and FILE blocks with their paths', () => {
  const reply = [
    'Here you go.',
    '',
    'src/a.ts',
    '```ts',
    '<<<<<<< SEARCH',
    'const a = 1;',
    '=======',
    'const a = 2;',
    '>>>>>>> REPLACE',
    '```',
    '',
    '`src/b.ts`',
    '<<<<<<< FILE',
    'export {};',
    '>>>>>>> FILE',
  ].join('\n');
  const { blocks, problems } = parseEditBlocks(reply);
  assert.deepEqual(problems, []);
  assert.deepEqual(blocks, [
    { kind: 'replace', path: 'src/a.ts', search: ['const a = 1;'], replace: ['const a = 2;'] },
    { kind: 'whole', path: 'src/b.ts', content: ['export {};'] },
  ]);
});

test('an unclosed block is a problem for the model, not a crash', () => {
  const { blocks, problems } = parseEditBlocks('a.ts\n<<<<<<< SEARCH\nx\n=======\ny\n');
  assert.equal(blocks.length, 0);
  assert.match(problems[0], /not closed/);
});

test('replacement keeps CRLF line endings and tolerates wrong indentation', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'f.ts'), 'function f() {\r\n    return 1;\r\n}\r\n');
  const report = applyEditBlocks(dir, [{ kind: 'replace', path: 'f.ts', search: ['return 1;'], replace: ['return 2;'] }]);
  assert.deepEqual(report.failures, []);
  assert.equal(fs.readFileSync(path.join(dir, 'f.ts'), 'utf8'), 'function f() {\r\n    return 2;\r\n}\r\n');
});

test('an ambiguous SEARCH is refused and names the matching lines', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'f.ts'), 'x();\ny();\nx();\n');
  const report = applyEditBlocks(dir, [{ kind: 'replace', path: 'f.ts', search: ['x();'], replace: ['z();'] }]);
  assert.match(report.failures[0], /matches 2 places \(lines 1, 3\)/);
  assert.equal(fs.readFileSync(path.join(dir, 'f.ts'), 'utf8'), 'x();\ny();\nx();\n');
});

test('paths escaping the directory, into .git or through a symlink are refused', () => {
  const dir = tempDir();
  const outside = tempDir();
  fs.symlinkSync(outside, path.join(dir, 'link'));
  const report = applyEditBlocks(dir, [
    { kind: 'whole', path: '../evil.txt', content: ['x'] },
    { kind: 'whole', path: '.git/hooks/pre-commit', content: ['x'] },
    { kind: 'whole', path: 'link/evil.txt', content: ['x'] },
    { kind: 'whole', path: '/etc/evil.txt', content: ['x'] },
  ]);
  assert.equal(report.applied, 0);
  assert.equal(report.failures.length, 4);
  assert.equal(fs.existsSync(path.join(outside, 'evil.txt')), false);
  assert.equal(fs.existsSync(path.join(dir, '.git')), false);
});

test('allowedFiles limits writes to the task files', () => {
  const dir = tempDir();
  const report = applyEditBlocks(dir, [{ kind: 'whole', path: 'other.ts', content: ['x'] }, { kind: 'whole', path: 'mine.ts', content: ['y'] }], { allowedFiles: ['mine.ts'] });
  assert.deepEqual(report.changedFiles, ['mine.ts']);
  assert.match(report.failures[0], /not one of this task's files/);
});
