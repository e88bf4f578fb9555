import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { PatchFileEntry } from '../../../src/core/patch';
import {
  binaryNote,
  conflictMessage,
  followUpPrompt,
  followUpTitle,
  formatFileEntry,
  formatStats,
  overlapWarning,
  parseResultUri,
  patchStats,
  resultPickItem,
  resultUriParts,
  reviewTitle,
  sortResults,
} from '../../../src/extension/logic/review';

const files: PatchFileEntry[] = [
  { path: 'src/a.ts', status: 'modified', additions: 3, deletions: 1 },
  { path: 'src/new.ts', status: 'added', additions: 10, deletions: 0 },
  { path: 'old.txt', status: 'deleted', additions: 0, deletions: 4 },
  { path: 'img/logo.png', status: 'modified', additions: 0, deletions: 0, binary: true },
  { path: 'lib/b.ts', from: 'src/b.ts', status: 'renamed', additions: 1, deletions: 1 },
];

test('result URIs round-trip task, side and path (spaces, unicode and query characters included)', () => {
  for (const address of [
    { taskId: '01J9ABC', side: 'original' as const, path: 'src/a.ts' },
    { taskId: '01J9ABC.0003', side: 'result' as const, path: 'docs/my file ü&x=1?.md' },
  ]) {
    const parts = resultUriParts(address);
    assert.equal(parts.path, `/${address.path}`);
    assert.deepEqual(parseResultUri(parts.path, parts.query), address);
  }
});

test('a URI without task, with an unknown side or without a path is not a result document', () => {
  assert.equal(parseResultUri('/src/a.ts', ''), undefined);
  assert.equal(parseResultUri('/src/a.ts', 'task=1&side=theirs'), undefined);
  assert.equal(parseResultUri('/', 'task=1&side=result'), undefined);
});

test('stats add up lines over files', () => {
  assert.deepEqual(patchStats(files), { files: 5, additions: 14, deletions: 6 });
  assert.equal(formatStats(patchStats(files)), '+14 −6 in 5 files');
  assert.equal(formatStats(patchStats(files.slice(0, 1))), '+3 −1 in 1 file');
  assert.equal(formatStats(patchStats([])), '+0 −0 in 0 files');
});

test('file entries name new, deleted, renamed and binary files', () => {
  assert.deepEqual(files.map(formatFileEntry), ['src/a.ts (+3 −1)', 'src/new.ts (new, +10 −0)', 'old.txt (deleted, +0 −4)', 'img/logo.png (binary)', 'src/b.ts → lib/b.ts (+1 −1)']);
});

test('a quick-pick item shows the title, the stats and at most a few files', () => {
  const item = resultPickItem({ id: 'T1', title: 'Fix the parser' }, files, 2);
  assert.deepEqual(item, { taskId: 'T1', label: 'Fix the parser', description: '+14 −6 in 5 files', detail: 'src/a.ts (+3 −1), src/new.ts (new, +10 −0) and 3 more' });
  assert.equal(resultPickItem({ id: 'T2', title: 'x' }, files.slice(0, 1)).detail, 'src/a.ts (+3 −1)');
});

test('results sort newest first, then by title', () => {
  const sorted = sortResults([
    { title: 'b', updatedAt: 10 },
    { title: 'a', updatedAt: 10 },
    { title: 'c', updatedAt: 30 },
  ]);
  assert.deepEqual(sorted.map((task) => task.title), ['c', 'a', 'b']);
});

test('the review title names the task and its size', () => {
  assert.equal(reviewTitle({ title: 'Fix it' }, files.slice(0, 2)), 'Swarm result: Fix it (+13 −1)', 'the multi-file diff adds the file count itself');
  assert.equal(reviewTitle({ title: 'Fix it' }, files.slice(0, 1)), `Swarm result: Fix it (${formatStats(patchStats(files.slice(0, 1)))})`);
});

test('binary notes say which side and that apply writes the file as is', () => {
  assert.match(binaryNote('img/logo.png', 'original', true), /binary file.*as the agent started from it[\s\S]*Apply writes/);
  assert.match(binaryNote('img/logo.png', 'result', false), /the task deletes it/);
  assert.match(binaryNote('img/logo.png', 'original', false), /the task adds it/);
});

test('overlap and conflict messages name the files, the reasons and what to do', () => {
  assert.equal(overlapWarning('A', []), undefined);
  const warning = overlapWarning('A', [{ title: 'B', files: ['src/a.ts'] }]);
  assert.ok(warning?.includes('"B" (src/a.ts)'));
  assert.ok(warning?.includes('that result will need a three-way merge or will conflict'));
  const message = conflictMessage('A', [{ path: 'src/a.ts', reason: '1 overlapping change with your edits' }, { path: 'b.bin' }]);
  assert.ok(message.startsWith('"A" was not applied: 2 files conflict with your changes: src/a.ts (1 overlapping change with your edits); b.bin.'));
  assert.ok(message.includes('Nothing was written'));
  assert.ok(message.includes('conflict markers'));
});

test('a follow-up carries the comment first, then the previous task and its request', () => {
  const prompt = followUpPrompt({ id: 'T1', title: 'Fix parser', prompt: 'Fix the parser bug' }, '  Also handle empty input \n', ['src/a.ts']);
  const lines = prompt.split('\n');
  assert.equal(lines[0], 'Also handle empty input');
  assert.ok(prompt.includes('follow-up to task T1 ("Fix parser")'));
  assert.ok(prompt.includes('Files of that result: src/a.ts.'));
  assert.ok(prompt.endsWith('The original request was:\nFix the parser bug'));
  assert.equal(followUpTitle('Handle empty input\nmore', 'Fix parser'), 'Follow-up: Handle empty input');
  assert.equal(followUpTitle('   ', 'Fix parser'), 'Follow-up: Changes to "Fix parser"');
  assert.ok(followUpTitle('x'.repeat(300), 't').length <= 120);
});
