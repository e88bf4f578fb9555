// Real git repositories in temp folders for worktree and patch tests.
import { execFileSync, type ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import assert from 'node:assert/strict';
import { afterEach } from 'node:test';
import type { Task } from '../../../src/core/board/types';
import { SwarmUserError, type UserErrorKind } from '../../../src/core/errors';
import { defaultWorktreesDir } from '../../../src/core/worktree/location';

/** Where the agent slots of the repository at `root` live by default (outside the checkout). */
export function slotsDir(root: string): string {
  return defaultWorktreesDir({ topLevel: root, commonDir: path.join(root, '.git') });
}

export function git(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, {
    cwd,
    input,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  }).trim();
}

export interface TempRepo {
  root: string;
  write(rel: string, content: string | Buffer): void;
  read(rel: string): string;
  cleanup(): void;
}

/** A repository with `files` committed on main; the temp folder is removed by cleanup(). */
export function makeRepo(files: Record<string, string | Buffer> = { 'src/a.txt': 'one\ntwo\nthree\n', 'README.md': '# demo\n' }): TempRepo {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-wt-'));
  const root = path.join(parent, 'repo');
  fs.mkdirSync(root);
  git(root, ['init', '-q', '-b', 'main']);
  const write = (rel: string, content: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  };
  for (const [rel, content] of Object.entries(files)) write(rel, content);
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', 'initial']);
  // The slots live in the cache folder, not under the temp folder: removed with the repository.
  const slots = slotsDir(root);
  const cleanup = () => {
    fs.rmSync(parent, { recursive: true, force: true });
    fs.rmSync(slots, { recursive: true, force: true });
  };
  return { root, write, read: (rel) => fs.readFileSync(path.join(root, rel), 'utf8'), cleanup };
}

let counter = 0;
export function fakeTask(partial: Partial<Task> = {}): Task {
  counter += 1;
  return {
    id: `t${Date.now().toString(36)}${counter}`,
    title: 'test task',
    type: 'fix',
    prompt: '',
    files: [],
    priority: 0,
    payload: null,
    status: 'running',
    attempts: 1,
    maxAttempts: 3,
    createdAt: Date.now(),
    updatedAt: Date.now(),
    ...partial,
  };
}

/** Fingerprint of the user's working state: every file's bytes (outside .git and the .swarm board), `git ls-files -s`, and the index file bytes. */
export function fingerprint(root: string): string {
  const hash = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      if (name === '.git' || name === '.swarm') continue;
      const full = path.join(dir, name);
      const stat = fs.lstatSync(full);
      hash.update(`${path.relative(root, full)}:${stat.mode}\n`);
      if (stat.isDirectory()) walk(full);
      else if (stat.isSymbolicLink()) hash.update(fs.readlinkSync(full));
      else hash.update(fs.readFileSync(full));
    }
  };
  walk(root);
  hash.update(git(root, ['ls-files', '-s']));
  hash.update(fs.readFileSync(path.join(root, '.git', 'index')));
  return hash.digest('hex');
}

/** A `makeRepo` for one test file: every repository it made is removed after each test. */
export function reposRemovedAfterEach(): (files?: Record<string, string | Buffer>) => TempRepo {
  const repos: TempRepo[] = [];
  afterEach(() => {
    for (const made of repos.splice(0)) made.cleanup();
  });
  return (files) => {
    const made = makeRepo(files);
    repos.push(made);
    return made;
  };
}

/**
 * Rejects with a SwarmUserError of `kind` (not a bug: hosts show it) whose first line, the line the
 * CLI prints and the extension shows, matches `firstLine`.
 */
export async function rejectsAsUserError(action: Promise<unknown>, kind: UserErrorKind, firstLine: RegExp): Promise<void> {
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof SwarmUserError, `a user error, not ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message.split('\n')[0], firstLine);
    return true;
  });
}

/** `count` small files spread over 40 folders (a repository big enough that a checkout takes a while). */
export function manyFiles(count: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i += 1) files[`d${i % 40}/f${i}.txt`] = `file ${i}\n`.repeat(20);
  return files;
}

/** Polls `condition` every 5 ms until it holds; throws after `timeoutMs`. */
export async function waitForCondition(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** SIGKILL of a detached child's whole process group, resolved once the child exited (at once if it already had). */
export function killProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(-(child.pid as number), 'SIGKILL');
  });
}
