// replaceFile hands the freeing of the file it replaces to a libuv thread (an O_PATH reference
// closed there), so an apply of hundreds of files does not free each old file inside its rename on
// the main thread. Checked here: every reference is released (none left once the event loop turns,
// also after a batch larger than the number held at once), and nothing else about the replace
// changes (content, mode, a link or a FIFO at the name replaced, never followed or opened).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { makeRealFolders, replaceFile } from '../../../src/core/patch/write';
import { assertSafePatchPath, UnsafePatchPathError, type WriteScope } from '../../../src/core/patch/paths';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-write-'));
  made.push(dir);
  return dir;
}

/** What this process's fds point at that are files deleted under `dir` (the replaced ones still held). */
function heldDeletedUnder(dir: string): string[] {
  return fs
    .readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(`${dir}/`) && target.endsWith(' (deleted)'));
}

/** Turns the event loop (where the releases are counted) until no replaced file under `dir` is held. */
async function released(dir: string): Promise<void> {
  const turn = () => new Promise((resolve) => setTimeout(resolve, 10));
  await turn();
  for (let waited = 0; heldDeletedUnder(dir).length > 0 && waited < 5_000; waited += 10) await turn();
}

const onLinux = process.platform === 'linux';

describe('replaceFile', () => {
  it('releases every replaced file it held once the event loop turns, in a long synchronous batch too', { skip: !onLinux && '/proc is Linux only' }, async () => {
    const dir = tempDir();
    const names = Array.from({ length: 300 }, (_, index) => path.join(dir, `f${index}.js`));
    for (const name of names) fs.writeFileSync(name, 'old\n');
    for (const [index, name] of names.entries()) replaceFile(name, `new ${index}\n`, index % 2 === 0 ? 0o755 : 0o644);
    await released(dir);
    assert.deepEqual(heldDeletedUnder(dir), []);
    for (const [index, name] of names.entries()) {
      assert.equal(fs.readFileSync(name, 'utf8'), `new ${index}\n`);
      assert.equal(fs.statSync(name).mode & 0o777, index % 2 === 0 ? 0o755 : 0o644);
    }
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.endsWith('.tmp')), []);
  });

  it('replaces a link or a FIFO at the name without following or opening it', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'target.txt');
    fs.writeFileSync(target, 'target\n');
    const link = path.join(dir, 'link.txt');
    fs.symlinkSync(target, link);
    replaceFile(link, 'replaced\n');
    assert.equal(fs.lstatSync(link).isFile(), true);
    assert.equal(fs.readFileSync(target, 'utf8'), 'target\n');
    const fifo = path.join(dir, 'fifo');
    // A FIFO opened for reading would block this thread until a writer came: the test would hang.
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    replaceFile(fifo, 'a file now\n');
    assert.equal(fs.readFileSync(fifo, 'utf8'), 'a file now\n');
    await released(dir);
  });
});

describe('assertSafePatchPath, asked again about a path it passed', () => {
  it('looks at the disk again: a folder on the way that became a link since is refused', () => {
    const dir = tempDir();
    const outside = tempDir();
    fs.mkdirSync(path.join(dir, 'a'));
    const scope: WriteScope = { workspaceRoot: dir, boardRoot: path.join(dir, '.swarm') };
    assertSafePatchPath(scope, 'a/b.txt');
    fs.rmSync(path.join(dir, 'a'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, 'a'));
    assert.throws(() => assertSafePatchPath(scope, 'a/b.txt'), (error) => error instanceof UnsafePatchPathError && /symbolic link "a"/.test(error.message));
  });

  it('still refuses the names it refused, every time', () => {
    const dir = tempDir();
    const scope: WriteScope = { workspaceRoot: dir, boardRoot: path.join(dir, '.swarm') };
    for (const name of ['.git/config', '.swarm/board.json', '../x', 'a/./b']) {
      for (let time = 0; time < 2; time += 1) assert.throws(() => assertSafePatchPath(scope, name), UnsafePatchPathError, name);
    }
  });
});

describe('makeRealFolders', () => {
  it('makes the missing folders, and refuses a link or a file that stands where a folder should be', () => {
    const dir = tempDir();
    const outside = tempDir();
    makeRealFolders(dir, path.join(dir, 'a', 'b', 'c'));
    assert.ok(fs.lstatSync(path.join(dir, 'a', 'b', 'c')).isDirectory());
    makeRealFolders(dir, path.join(dir, 'a', 'b', 'c'));
    fs.symlinkSync(outside, path.join(dir, 'link'));
    assert.throws(() => makeRealFolders(dir, path.join(dir, 'link', 'x')), /link is not a folder \(it is a symbolic link\)/);
    assert.deepEqual(fs.readdirSync(outside), []);
    fs.writeFileSync(path.join(dir, 'a', 'file'), 'f\n');
    assert.throws(() => makeRealFolders(dir, path.join(dir, 'a', 'file', 'x')), /file is not a folder \(it is a file\)/);
  });
});
