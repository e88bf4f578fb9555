// Attack: a model that names crafted paths in its edit blocks. Every write goes through the core's
// one path check (assertSafePatchPath) and the real path: never .git in any spelling, never the task
// board (the default folder or wherever the pool's board lives), never outside the worktree, never
// through a symbolic link. A real git repository, real files, a real model endpoint on 127.0.0.1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createExecutor } from '../../src/core/executors';
import { applyEditBlocks, type EditBlock } from '../../src/core/executors/model/edits';
import { makeContext, makeTask, tempDir } from '../unit/executors/helpers';
import { openAiCompletion, startModelServer, wholeFile, type ModelServer } from '../unit/executors/model-server';

interface Repo {
  dir: string;
  outside: string;
  boardRoot: string;
  /** Every file under the repository (including .git and the boards) and the outside folder, with its content. */
  state: () => Map<string, string>;
}

function listFiles(root: string, into: Map<string, string>): Map<string, string> {
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isSymbolicLink()) into.set(full, `-> ${fs.readlinkSync(full)}`);
    else if (entry.isDirectory()) listFiles(full, into);
    else into.set(full, fs.readFileSync(full, 'latin1'));
  }
  return into;
}

/** A git repository with a board inside it (direct isolation: the board sits in the task's directory) and links planted in it. */
function repository(): Repo {
  const base = tempDir('swarm-model-attack-');
  const dir = path.join(base, 'repo');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  const git = spawnSync('git', ['init', '-q', dir], { encoding: 'utf8' });
  assert.equal(git.status, 0, `git init failed (is git installed?): ${git.stderr}`);
  fs.writeFileSync(path.join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  fs.mkdirSync(path.join(dir, 'src', 'sub', '.git'), { recursive: true }); // a nested repository's .git
  const boardRoot = path.join(dir, 'work', 'board');
  for (const board of [boardRoot, path.join(dir, '.swarm')]) {
    fs.mkdirSync(path.join(board, 'pending'), { recursive: true });
    fs.writeFileSync(path.join(board, 'pending', 'keep.json'), '{}');
  }
  fs.symlinkSync(outside, path.join(dir, 'out-link'));
  fs.symlinkSync(path.join(dir, '.git'), path.join(dir, 'git-link'));
  fs.symlinkSync(path.join(dir, '.git', 'config'), path.join(dir, 'config-link'));
  fs.symlinkSync(path.join(outside, 'target.txt'), path.join(dir, 'dangling-link'));
  return { dir, outside, boardRoot, state: () => listFiles(outside, listFiles(dir, new Map())) };
}

const CRAFTED: string[] = [
  '.git/config',
  '.git/hooks/pre-commit',
  '.GIT/config',
  '.Git/hooks/post-checkout',
  '.git./config',
  '.git /config',
  '.git::$INDEX_ALLOCATION/config',
  'GIT~1/config',
  '.g\u200cit/config',
  '.ｇｉｔ/config', // full-width letters: NFKC folds them to ".git"
  '.git',
  'src/sub/.git/config',
  'src\\..\\..\\outside\\x.txt',
  '.swarm/pending/evil.json',
  '.SWARM/pending/evil.json',
  'work/board/pending/evil.json',
  'Work/Board/pending/evil.json',
  '../outside/escape.txt',
  'src/../../outside/escape.txt',
  './../outside/escape.txt',
  '/tmp/swarm-model-attack-absolute.txt',
  'C:/Windows/evil.txt',
  '~/.bashrc',
  'out-link/escape.txt',
  'git-link/config',
  'config-link',
  'dangling-link',
  'src/a\0.ts',
  `src/${'x'.repeat(300)}.ts`,
  `${'deep/'.repeat(900)}x.ts`,
];

test('every crafted path is refused with a reason, and nothing in the repository, the boards or outside changes', () => {
  const repo = repository();
  const before = repo.state();
  for (const crafted of CRAFTED) {
    const block: EditBlock = { kind: 'whole', path: crafted, content: ['pwned'] };
    const report = applyEditBlocks(repo.dir, [block], { boardRoot: repo.boardRoot });
    assert.equal(report.applied, 0, `${JSON.stringify(crafted)} was written`);
    assert.equal(report.failures.length, 1, `${JSON.stringify(crafted)} was not refused`);
    assert.match(report.failures[0], /^Edit refused: /);
    assert.ok(report.failures[0].length < 600, `the refusal of ${JSON.stringify(crafted).slice(0, 40)} is short`);
  }
  assert.deepEqual(repo.state(), before, 'no file was written or changed anywhere');
  assert.equal(fs.existsSync('/tmp/swarm-model-attack-absolute.txt'), false);
  // The control: an ordinary path is written, so the refusals above are not a check that refuses everything.
  const fine = applyEditBlocks(repo.dir, [{ kind: 'whole', path: './src/new.ts', content: ['ok'] }], { boardRoot: repo.boardRoot });
  assert.deepEqual(fine.changedFiles, ['src/new.ts']);
  assert.equal(fs.readFileSync(path.join(repo.dir, 'src', 'new.ts'), 'utf8'), 'ok\n');
});

test('a SEARCH/REPLACE block into .git or the board is refused too (not only whole files)', () => {
  const repo = repository();
  const before = repo.state();
  const report = applyEditBlocks(
    repo.dir,
    [
      { kind: 'replace', path: '.GIT/config', search: ['[core]'], replace: ['[core]', '\thooksPath = /tmp'] },
      { kind: 'replace', path: 'work/board/pending/keep.json', search: ['{}'], replace: ['{"command":"touch pwned"}'] },
    ],
    { boardRoot: repo.boardRoot },
  );
  assert.equal(report.applied, 0);
  assert.match(report.failures[0], /inside a \.git directory/);
  assert.match(report.failures[1], /inside the task board folder/);
  assert.deepEqual(repo.state(), before);
});

let server: ModelServer;
before(async () => {
  server = await startModelServer();
});
after(async () => {
  await server.close();
});

test('end to end: the model executor, told by a hostile reply to write .git, the board and outside, writes none of them and tells the model why', async () => {
  const repo = repository();
  const before = repo.state();
  const hostile = ['.Git/config', 'work/board/pending/evil.json', '.swarm/pending/evil.json', '../outside/escape.txt', 'config-link', 'out-link/x.txt'].map((file) => wholeFile(file, 'pwned')).join('\n\n');
  server.reply(openAiCompletion(hostile), openAiCompletion(wholeFile('src/a.ts', 'export const a = 2;')));
  const executor = createExecutor({ type: 'model', provider: 'openai', model: 'test-model', baseUrl: `${server.baseUrl}/v1`, apiKeyEnv: 'TEST_OPENAI_KEY' });
  const task = makeTask({ title: 'change a', prompt: 'set a to 2', files: ['src/a.ts'] });
  const result = await executor.execute(makeContext(repo.dir, task, { env: { TEST_OPENAI_KEY: 'sk-test-0123456789' }, boardRoot: repo.boardRoot }));
  assert.deepEqual(result.changedFiles, ['src/a.ts']);
  const after = repo.state();
  after.set(path.join(repo.dir, 'src', 'a.ts'), before.get(path.join(repo.dir, 'src', 'a.ts')) as string);
  assert.deepEqual(after, before, 'only src/a.ts changed');
  const feedback = JSON.stringify((server.requests[1].body as { messages: unknown[] }).messages.at(-1));
  for (const reason of ['inside a .git directory', 'inside the task board folder', 'would leave the workspace', 'is a symbolic link', 'goes through the symbolic link']) assert.ok(feedback.includes(reason), `the model is told "${reason}"`);
});
