// The launchers in dist/ (cli.js, agent.js) load their bundle with a V8 code cache. V8 runs cached
// code without comparing it with the source (it checks only the source's length), so these tests
// attack what the cache rests on: a rebuilt bundle of the same length, a planted cache in a folder
// others can write or through a symlink, a torn cache file, a cache folder that cannot be made.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, before, describe, it } from 'node:test';

const launcher = path.resolve(__dirname, '..', '..', '..', 'dist', 'cli.js');
const scratches: string[] = [];

/** Two bundles of the same length that print different words. */
const GOOD = "console.log('good'); process.exitCode = 0;\n";
const EVIL = "console.log('EVIL'); process.exitCode = 0;\n";

interface Install {
  dist: string;
  bundle: string;
  cacheFolder: string;
}

/** A dist/ folder holding the real CLI launcher and a bundle of our own as its cli-main.js. */
function installWith(bundleText: string): Install {
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-code-cache-'));
  scratches.push(dist);
  fs.copyFileSync(launcher, path.join(dist, 'cli.js'));
  fs.writeFileSync(path.join(dist, 'cli-main.js'), bundleText);
  return { dist, bundle: path.join(dist, 'cli-main.js'), cacheFolder: path.join(dist, '.cache') };
}

function start(install: Install, env: NodeJS.ProcessEnv = {}, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [path.join(install.dist, 'cli.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function cacheFiles(install: Install): string[] {
  return fs.existsSync(install.cacheFolder) ? fs.readdirSync(install.cacheFolder).filter((name) => name.endsWith('.v8')) : [];
}

/** The one cache file of an install, after a start wrote it. */
function onlyCache(install: Install): string {
  const files = cacheFiles(install);
  assert.equal(files.length, 1, `one cache file expected, found: ${files.join(', ')}`);
  return path.join(install.cacheFolder, files[0]);
}

/** A cache made for EVIL by the same Node, planted under the name GOOD's cache has. */
function plantEvilCache(at: string): void {
  const evil = installWith(EVIL);
  assert.equal(start(evil).stdout, 'EVIL\n');
  fs.copyFileSync(onlyCache(evil), at);
}

describe('the code cache of the dist/ launchers', () => {
  before(() => assert.ok(fs.existsSync(launcher), 'dist/cli.js is built (npm run build)'));
  afterEach(() => {
    for (const dir of scratches.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a private cache at the first start and loads it at the next without writing it again', () => {
    const install = installWith(GOOD);
    assert.deepEqual(start(install), { status: 0, stdout: 'good\n', stderr: '' });
    const cache = onlyCache(install);
    assert.equal(fs.statSync(install.cacheFolder).mode & 0o777, 0o700);
    assert.equal(fs.statSync(cache).mode & 0o777, 0o600);
    const written = fs.statSync(cache);
    assert.deepEqual(start(install), { status: 0, stdout: 'good\n', stderr: '' });
    // A cache V8 rejected, or one not read, is written again at exit (a new file, renamed in).
    assert.equal(fs.statSync(cache).ino, written.ino, 'the cache was rewritten: it was not used');
  });

  it('never runs the code of an earlier build of the same length', () => {
    const install = installWith(EVIL);
    assert.equal(start(install).stdout, 'EVIL\n');
    fs.writeFileSync(install.bundle, GOOD);
    assert.equal(start(install).stdout, 'good\n');
    assert.equal(cacheFiles(install).length, 1, 'the earlier build’s cache is replaced, not kept beside');
  });

  it('runs a planted cache in a private folder (the control), but not in a folder others can write', () => {
    const install = installWith(GOOD);
    start(install);
    const cache = onlyCache(install);
    plantEvilCache(cache);
    // The control: V8 runs whatever a trusted cache holds, so the trust checks below are what matter.
    assert.equal(start(install).stdout, 'EVIL\n');
    plantEvilCache(cache);
    fs.chmodSync(install.cacheFolder, 0o777);
    assert.equal(start(install).stdout, 'good\n');
  });

  it('does not read a planted cache owned by another user or reached through a symlink', () => {
    const install = installWith(GOOD);
    start(install);
    const cache = onlyCache(install);
    plantEvilCache(cache);
    fs.chmodSync(cache, 0o666);
    assert.equal(start(install).stdout, 'good\n', 'a cache file others can write was read');
    const elsewhere = path.join(install.dist, 'evil.v8');
    plantEvilCache(elsewhere);
    fs.rmSync(cache);
    fs.symlinkSync(elsewhere, cache);
    assert.equal(start(install).stdout, 'good\n', 'a cache reached through a symlink was read');
    if (process.getuid?.() === 0) {
      fs.rmSync(cache);
      plantEvilCache(cache);
      fs.chownSync(cache, 65534, 65534);
      assert.equal(start(install).stdout, 'good\n', 'a cache owned by another user was read');
    }
  });

  it('replaces the cache of a short command with a fuller one once a longer command has run a while', () => {
    // 300 functions only a long command calls: compiled then, so a cache taken later covers them.
    const functions = Array.from({ length: 300 }, (_, index) => `function part${index}(value) { return value.map((item) => item * ${index} + 1).filter((item) => item % 7 !== ${index % 7}).length; }`);
    const install = installWith(
      [...functions, "if (process.argv[2] === 'long') {", ...functions.map((_, index) => `  part${index}([1, 2, 3]);`), '  setTimeout(() => undefined, 3_000);', '}', "console.log('good');", ''].join('\n'),
    );
    start(install);
    const short = fs.statSync(onlyCache(install)).size;
    assert.equal(start(install, {}, ['long']).stdout, 'good\n');
    assert.ok(fs.statSync(onlyCache(install)).size > short * 1.5, `the cache stayed at ${short} bytes`);
  });

  it('ignores a torn cache file and writes a whole one', () => {
    const install = installWith(GOOD);
    start(install);
    const cache = onlyCache(install);
    const whole = fs.statSync(cache).size;
    fs.truncateSync(cache, Math.floor(whole / 2));
    assert.deepEqual(start(install), { status: 0, stdout: 'good\n', stderr: '' });
    assert.equal(fs.statSync(onlyCache(install)).size, whole);
  });

  it('starts without a cache, silently, when the cache folder cannot be made', () => {
    const install = installWith(GOOD);
    fs.writeFileSync(install.cacheFolder, 'not a folder');
    assert.deepEqual(start(install), { status: 0, stdout: 'good\n', stderr: '' });
    assert.deepEqual(start(install), { status: 0, stdout: 'good\n', stderr: '' });
  });

  it('keeps no cache with SWARM_CODE_CACHE=off', () => {
    const install = installWith(GOOD);
    assert.deepEqual(start(install, { SWARM_CODE_CACHE: 'off' }), { status: 0, stdout: 'good\n', stderr: '' });
    assert.ok(!fs.existsSync(install.cacheFolder));
  });

  it('gives the bundle its own file name, folder, require and exit code, with or without a cache', () => {
    const install = installWith(
      [
        "const path = require('path');",
        "console.log(path.basename(__filename), __dirname === path.dirname(__filename), require('./sibling.js'));",
        "throw new Error('from the bundle');",
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(install.dist, 'sibling.js'), "module.exports = 'sibling';\n");
    for (const round of ['without a cache', 'with a cache']) {
      const result = start(install);
      assert.equal(result.stdout, 'cli-main.js true sibling\n', round);
      assert.equal(result.status, 1, round);
      assert.match(result.stderr, /cli-main\.js:3/, `${round}: the stack names the bundle's line`);
    }
  });
});
