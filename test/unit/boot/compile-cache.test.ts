// core/compileCache.ts, through real Node processes: a bundle runs as Node's loader would run it
// (its folder, its siblings, its exports, its exit code), the second process starts from the cache
// the first one wrote at exit, and every way the cache can go wrong (corrupt, another user's or a
// shared folder, a link, a full disk, switched off) costs only the compile, never the run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, it } from 'node:test';

const loader = path.resolve(__dirname, '..', '..', '..', 'src', 'core', 'compileCache.ts');
const scratches: string[] = [];
const mounts: string[] = [];

/** A bundle beside a sibling it requires; it prints what it sees and exits with code 3. */
function scratchBundle(extraFunctions = 0): { dir: string; bundle: string; cache: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-compile-cache-'));
  scratches.push(dir);
  fs.writeFileSync(path.join(dir, 'sibling.js'), 'module.exports = { answer: 42 };\n');
  // Functions that run, so the cache written after the run holds their code (and is big enough to fill a small disk).
  const filler = Array.from({ length: extraFunctions }, (_, index) => `function f${index}(x) { return [x, ${index}, 'filler ${index}'].join('-'); }\nf${index}(${index});\n`).join('');
  const bundle = path.join(dir, 'bundle.js');
  fs.writeFileSync(bundle, `${filler}module.exports.loaded = true;\nconsole.log(JSON.stringify({ dirname: __dirname, filename: __filename, sibling: require('./sibling.js').answer, exportsOk: module.exports.loaded === true && this === module.exports }));\nprocess.exit(3);\n`);
  const runner = path.join(dir, 'runner.ts');
  fs.writeFileSync(runner, `import { runBundle } from ${JSON.stringify(loader)};\nrunBundle(process.argv[2], { variant: process.argv[3], onCacheUse: (use) => process.stderr.write(use) });\n`);
  return { dir, bundle, cache: path.join(dir, 'cache') };
}

/** Runs the bundle through the loader; `use` is how the cache was used (off, missing, rejected, used). */
function run(bundle: string, cacheSetting: string, variant?: string): { status: number | null; seen: Record<string, unknown>; use: string } {
  const runner = path.join(path.dirname(bundle), 'runner.ts');
  const result = spawnSync(process.execPath, ['--import', 'tsx', runner, bundle, ...(variant ? [variant] : [])], { encoding: 'utf8', env: { ...process.env, SWARM_COMPILE_CACHE: cacheSetting }, timeout: 60_000 });
  assert.ok(result.stdout.trim(), `the bundle printed nothing: ${result.stderr}`);
  return { status: result.status, seen: JSON.parse(result.stdout) as Record<string, unknown>, use: result.stderr.trim() };
}

function cacheFiles(folder: string): string[] {
  return fs.existsSync(folder) ? fs.readdirSync(folder).sort() : [];
}

function assertRanLikeNode(outcome: ReturnType<typeof run>, bundle: string): void {
  assert.equal(outcome.status, 3, 'the exit code is the bundle’s');
  assert.deepEqual(outcome.seen, { dirname: path.dirname(bundle), filename: bundle, sibling: 42, exportsOk: true });
}

describe('compile cache (core/compileCache.ts)', () => {
  afterEach(() => {
    for (const dir of mounts.splice(0)) spawnSync('umount', [dir]);
    for (const dir of scratches.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the bundle as Node would, writes the cache at exit into a private folder, and the next process uses it', () => {
    const { bundle, cache } = scratchBundle();
    const first = run(bundle, cache);
    assertRanLikeNode(first, bundle);
    assert.equal(first.use, 'missing');
    const files = cacheFiles(cache);
    assert.equal(files.length, 1, `one cache file, got ${files.join(', ')}`);
    assert.match(files[0], /^bundle\.js-[0-9a-f]{32}\.cache$/);
    assert.equal(fs.statSync(cache).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(cache, files[0])).mode & 0o777, 0o600);
    const second = run(bundle, cache);
    assertRanLikeNode(second, bundle);
    assert.equal(second.use, 'used');
    assert.deepEqual(cacheFiles(cache), files, 'a used cache is not written again');
    // Another way of running the bundle (swarm run) gets a cache of its own.
    assert.equal(run(bundle, cache, 'run').use, 'missing');
    assert.equal(run(bundle, cache, 'run').use, 'used');
    assert.equal(cacheFiles(cache).filter((name) => /^bundle\.js-run-[0-9a-f]{32}\.cache$/.test(name)).length, 1);
  });

  it('gives a changed bundle a cache of its own and keeps only the newest four of one bundle', () => {
    const { bundle, cache } = scratchBundle();
    const original = fs.readFileSync(bundle, 'utf8');
    for (let version = 0; version < 6; version++) {
      fs.writeFileSync(bundle, `// build ${version}\n${original}`);
      assert.equal(run(bundle, cache).use, 'missing', `build ${version} must not run an older build's code`);
    }
    assert.equal(cacheFiles(cache).length, 4);
    assert.equal(run(bundle, cache).use, 'used');
  });

  it('removes the temporary file a writer killed before its rename left, once it is old', () => {
    const { bundle, cache } = scratchBundle();
    run(bundle, cache);
    const [name] = cacheFiles(cache);
    const abandoned = path.join(cache, `${name}.99999.tmp`);
    const fresh = path.join(cache, `${name}.99998.tmp`);
    fs.writeFileSync(abandoned, 'half a cache');
    fs.writeFileSync(fresh, 'a cache being written right now');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    fs.utimesSync(abandoned, anHourAgo, anHourAgo);
    fs.writeFileSync(bundle, `// rebuilt\n${fs.readFileSync(bundle, 'utf8')}`);
    assert.equal(run(bundle, cache).use, 'missing');
    assert.ok(!fs.existsSync(abandoned), 'the old temporary file was removed');
    assert.ok(fs.existsSync(fresh), 'a temporary file another process may still rename stays');
  });

  it('rejects a corrupt or truncated cache, still runs the bundle, and replaces the cache', () => {
    const { bundle, cache } = scratchBundle(200);
    run(bundle, cache);
    const [name] = cacheFiles(cache);
    const file = path.join(cache, name);
    const good = fs.readFileSync(file);
    for (const bad of [Buffer.from('not a V8 code cache at all'), good.subarray(0, good.length >> 1), Buffer.alloc(good.length, 7)]) {
      fs.writeFileSync(file, bad);
      const outcome = run(bundle, cache);
      assertRanLikeNode(outcome, bundle);
      assert.equal(outcome.use, 'rejected');
      assert.equal(run(bundle, cache).use, 'used', 'the rejected cache was replaced by a good one');
    }
  });

  it('does not use or write a cache folder that others can write, that is a link, or that another user owns', () => {
    const { dir, bundle, cache } = scratchBundle();
    fs.mkdirSync(cache, { mode: 0o700 });
    fs.chmodSync(cache, 0o777);
    assertRanLikeNode(run(bundle, cache), bundle);
    assert.equal(run(bundle, cache).use, 'off');
    assert.deepEqual(cacheFiles(cache), [], 'nothing was written into a folder others can write');

    const real = path.join(dir, 'real-cache');
    fs.mkdirSync(real, { mode: 0o700 });
    const link = path.join(dir, 'linked-cache');
    fs.symlinkSync(real, link);
    assert.equal(run(bundle, link).use, 'off');
    assert.deepEqual(cacheFiles(real), []);

    if (process.getuid?.() !== 0) assert.fail('the other-user case needs root (chown); run the unit tests as root as CI does');
    const foreign = path.join(dir, 'foreign-cache');
    fs.mkdirSync(foreign, { mode: 0o700 });
    fs.chownSync(foreign, 65534, 65534);
    assert.equal(run(bundle, foreign).use, 'off');
    assert.deepEqual(cacheFiles(foreign), []);
  });

  it('runs the bundle and leaves no partial file when the cache disk is full', () => {
    if (process.getuid?.() !== 0) assert.fail('this test mounts a small tmpfs and needs root (mount -t tmpfs)');
    const { bundle, cache } = scratchBundle(3000);
    fs.mkdirSync(cache, { mode: 0o700 });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=700', 'tmpfs', cache], { encoding: 'utf8' });
    assert.equal(mounted.status, 0, `mount failed: ${mounted.stderr}`);
    mounts.push(cache);
    const outcome = run(bundle, cache);
    assertRanLikeNode(outcome, bundle);
    assert.equal(outcome.use, 'missing');
    assert.deepEqual(cacheFiles(cache), [], 'a cache that did not fit leaves nothing behind');
  });

  it('keeps its cache under $XDG_CACHE_HOME when that is absolute, and under ~/.cache when it is relative', () => {
    const { dir, bundle } = scratchBundle();
    const runWith = (env: Record<string, string>): string =>
      // Run in the scratch folder (where a relative cache folder would land), so tsx is named by its path.
      spawnSync(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(dir, 'runner.ts'), bundle], { encoding: 'utf8', cwd: dir, env: { ...process.env, SWARM_COMPILE_CACHE: '', ...env }, timeout: 60_000 }).stderr.trim();
    const xdg = path.join(dir, 'xdg');
    assert.equal(runWith({ XDG_CACHE_HOME: xdg, HOME: path.join(dir, 'home-a') }), 'missing');
    assert.equal(cacheFiles(path.join(xdg, 'agent-swarm', 'compile-cache')).length, 1);
    assert.equal(runWith({ XDG_CACHE_HOME: 'relative-cache', HOME: path.join(dir, 'home-b') }), 'missing');
    assert.ok(!fs.existsSync(path.join(dir, 'relative-cache')), 'a relative XDG_CACHE_HOME is not used (it would put the cache in the working folder)');
    assert.equal(cacheFiles(path.join(dir, 'home-b', '.cache', 'agent-swarm', 'compile-cache')).length, 1);
  });

  it('compiles every time and writes nothing with SWARM_COMPILE_CACHE=off', () => {
    const { dir, bundle } = scratchBundle();
    const home = path.join(dir, 'home');
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, 'runner.ts'), bundle], { encoding: 'utf8', env: { ...process.env, SWARM_COMPILE_CACHE: 'off', HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') }, timeout: 60_000 });
    assert.equal(result.status, 3);
    assert.equal(result.stderr.trim(), 'off');
    assert.ok(!fs.existsSync(home), 'nothing was written under the home folder');
  });
});
