// Separate "machines" as real repositories in one temp folder: a bare origin, the developer's clone
// with every kind of local change, and runner folders (a cache folder, a clone of their own).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { after, before } from 'node:test';
import type { Board } from '../../../src/core/board';
import { startRedis, type RedisServer } from '../../harness/redis';
import { git } from '../worktree/helpers';


/** 20 KB of bytes that do not compress, so a full bundle is clearly bigger than a thin one. */
export function binary(seed: string, size = 20_000): Buffer {
  const out = Buffer.alloc(size);
  for (let offset = 0, i = 0; offset < size; i += 1) offset += crypto.createHash('sha256').update(`${seed}${i}`).digest().copy(out, offset);
  return out;
}

export interface World {
  dir: string;
  origin: string;
  dev: string;
  write(repo: string, rel: string, content: string | Buffer): void;
  read(repo: string, rel: string): Buffer;
  cleanup(): void;
}

const SEED: Record<string, string | Buffer> = {
  'src/a.txt': 'alpha\nbeta\ngamma\n',
  'src/b.txt': 'one\ntwo\nthree\n',
  'src/c.txt': 'to be deleted\n',
  'bin/logo.bin': binary('logo'),
  'README.md': '# demo\n',
  '.gitignore': '*.log\nnode_modules/\n.env\n',
};

/** Origin with one pushed commit on main, and the developer's clone of it (no local changes yet). */
export function makeWorld(seed: Record<string, string | Buffer> = SEED): World {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-remote-')));
  const origin = path.join(dir, 'origin.git');
  const dev = path.join(dir, 'dev');
  const seedDir = path.join(dir, 'seed');
  const write = (repo: string, rel: string, content: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
    fs.writeFileSync(path.join(repo, rel), content);
  };
  fs.mkdirSync(seedDir);
  git(seedDir, ['init', '-q', '-b', 'main']);
  for (const [rel, content] of Object.entries(seed)) write(seedDir, rel, content);
  git(seedDir, ['add', '-A']);
  git(seedDir, ['commit', '-q', '-m', 'seed']);
  git(dir, ['init', '-q', '--bare', '-b', 'main', origin]);
  git(seedDir, ['push', '-q', origin, 'main']);
  git(dir, ['clone', '-q', origin, dev]);
  return { dir, origin, dev, write, read: (repo, rel) => fs.readFileSync(path.join(repo, rel)), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The developer's working state: an unpushed commit, a staged and an unstaged edit, a binary change,
 * an untracked file the task names, an ignored file the task names, and ignored secrets/dependencies.
 */
export function addLocalChanges(world: World): void {
  const { dev, write } = world;
  write(dev, 'src/b.txt', 'one\ntwo (unpushed)\nthree\n');
  git(dev, ['commit', '-q', '-am', 'unpushed work']);
  write(dev, 'src/a.txt', 'alpha\nbeta (staged)\ngamma\n');
  git(dev, ['add', 'src/a.txt']);
  write(dev, 'README.md', '# demo (unstaged)\n');
  const logo = binary('logo');
  logo[100] ^= 0xff;
  write(dev, 'bin/logo.bin', logo);
  write(dev, 'notes/todo.md', 'untracked, named by the task\n');
  write(dev, 'debug.log', 'ignored, named by the task\n');
  write(dev, 'scratch.txt', 'untracked, not named\n');
  write(dev, '.env', 'SECRET=1\n');
  write(dev, 'node_modules/dep/index.js', 'module.exports = 1;\n');
}

export const NAMED_FILES = ['notes/todo.md', 'debug.log', '.env', 'src/a.txt'];

/** Every file of a commit with its bytes, for comparing trees across machines. */
export function treeFiles(repo: string, commit: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const line of git(repo, ['ls-tree', '-r', commit]).split('\n').filter(Boolean)) {
    const [meta, name] = line.split('\t');
    files[name] = meta;
  }
  return files;
}

/** A runner's worktree at `commit` from the repository it imported into. */
export function addWorktree(gitDir: string, dir: string, commit: string): string {
  git(gitDir, ['worktree', 'add', '-q', '--detach', dir, commit]);
  return dir;
}

/** The edits an agent makes (the same on every machine): modify, add, delete, rename, binary. */
export function agentEdits(root: string): void {
  fs.writeFileSync(path.join(root, 'src/a.txt'), 'alpha\nbeta (staged)\ngamma\ndelta (agent)\n');
  fs.writeFileSync(path.join(root, 'src/new.txt'), 'added by the agent\n');
  fs.rmSync(path.join(root, 'src/c.txt'));
  fs.renameSync(path.join(root, 'notes/todo.md'), path.join(root, 'notes/done.md'));
  const logo = fs.readFileSync(path.join(root, 'bin/logo.bin'));
  logo[5000] ^= 0x0f;
  fs.writeFileSync(path.join(root, 'bin/logo.bin'), logo);
}

/** Refs of a repository as `ref oid` lines, to see which ones an import added. */
export function refs(gitDir: string): string[] {
  const text = git(gitDir, ['for-each-ref', '--format=%(refname) %(objectname)']);
  return text.split('\n').filter(Boolean).sort();
}

/**
 * A real redis-server for the tests of one file, started before them; it, the boards they opened
 * and the worlds they made are stopped, closed and removed after them.
 */
export function redisWorlds(): { server: () => RedisServer; worlds: World[]; boards: Board[] } {
  let redis: RedisServer | undefined;
  const worlds: World[] = [];
  const boards: Board[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const board of boards) await board.close();
    await redis?.stop();
    for (const world of worlds) world.cleanup();
  });
  const server = (): RedisServer => {
    if (!redis) throw new Error('redis-server is started in before(): use it inside a test');
    return redis;
  };
  return { server, worlds, boards };
}
