// Loads a bundle in dist/ with a V8 code cache, so `swarm` and every agent process skip most of
// the parse and compile of their bundle (1.3 MB for the CLI) at each start. Node 20 has no built-in
// compile cache (module.enableCompileCache is Node 22); v8-compile-cache writes its cache into a
// shared temp folder another user could plant a cache in, and caches only the functions compiled
// before the bundle ran. Here the cache is taken after the bundle ran (it covers the code a command
// really used), lives beside the bundle in a folder only its owner can write, is keyed by the
// bundle's identity (V8 itself only checks the source's length), and is written by atomic rename.
// A cache that cannot be read, written or trusted is ignored: the bundle then loads as it would
// have without one. SWARM_CODE_CACHE=off turns it off.
import { createHash } from 'crypto';
import * as fs from 'fs';
import Module from 'module';
import * as path from 'path';
import * as vm from 'vm';

/** Refresh a cache that a short command wrote once a longer one has compiled more of the bundle. */
const REFRESH_AFTER_MS = 2_000;
/** A refreshed cache is written only when it covers noticeably more than the one loaded. */
const REFRESH_GROWTH = 1.1;

interface CacheFile {
  /** Where this bundle's cache is, for this Node and these flags. */
  file: string;
  /** Older caches of the same bundle for the same Node: replaced by a new write. */
  siblingsPrefix: string;
  folder: string;
}

/** Runs `bundle` as the main module's code would run, with a code cache when one can be kept. */
export function loadBundle(bundle: string): void {
  const source = fs.readFileSync(bundle, 'utf8');
  const cache = process.env.SWARM_CODE_CACHE === 'off' ? undefined : cacheFileFor(bundle);
  const cached = cache ? readTrusted(cache) : undefined;
  const script = new vm.Script(Module.wrap(withoutHashbang(source)), {
    filename: bundle,
    cachedData: cached,
    // Keeps `import()` working inside the bundle as it would in a module Node loaded itself.
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cache) scheduleWrites(script, cache, cached === undefined || script.cachedDataRejected === true ? 0 : cached.length);
  runAsModule(script, bundle);
}

/** The bundle's exports, require, module, __filename and __dirname, as Node's loader gives them. */
function runAsModule(script: vm.Script, bundle: string): void {
  const bundleModule = new Module(bundle, require.main);
  bundleModule.filename = bundle;
  const requireFromBundle = Module.createRequire(bundle);
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(bundleModule.exports, bundleModule.exports, requireFromBundle, bundleModule, bundle, path.dirname(bundle));
}

/** A hashbang line is only valid at the very start of a script: blanked, so line numbers stay. */
function withoutHashbang(source: string): string {
  return source.startsWith('#!') ? `//${source.slice(2)}` : source;
}

/**
 * The cache's name holds what V8 does not check itself: the bundle's identity (a rebuild of the
 * same length would otherwise run the old code) and this Node's version and flags (two Node builds,
 * the system's and VS Code's, then keep a cache each instead of replacing each other's).
 */
function cacheFileFor(bundle: string): CacheFile | undefined {
  try {
    const stat = fs.statSync(bundle);
    const folder = path.join(path.dirname(bundle), '.cache');
    const runtime = shortHash([process.version, process.arch, process.versions.v8, ...process.execArgv].join('\0'));
    const identity = shortHash([stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino, stat.dev].join('\0'));
    const siblingsPrefix = `${path.basename(bundle)}.${runtime}.`;
    return { folder, siblingsPrefix, file: path.join(folder, `${siblingsPrefix}${identity}.v8`) };
  } catch {
    return undefined;
  }
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * V8 runs cached code without checking it against the source, so a cache is read only from a
 * folder and file this user owns and nobody else can write.
 */
function readTrusted(cache: CacheFile): Buffer | undefined {
  try {
    if (!ownedAndPrivate(fs.statSync(cache.folder))) return undefined;
    const fd = fs.openSync(cache.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      return ownedAndPrivate(fs.fstatSync(fd)) ? fs.readFileSync(fd) : undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function ownedAndPrivate(stat: fs.Stats): boolean {
  const uid = process.getuid?.();
  return (uid === undefined || stat.uid === uid) && (stat.mode & 0o022) === 0;
}

/**
 * Without a usable cache, one is written at exit. With one, a process still running after a while
 * (a `swarm run`, an agent) writes a fuller one if it compiled noticeably more than the cache held.
 */
function scheduleWrites(script: vm.Script, cache: CacheFile, loadedBytes: number): void {
  if (loadedBytes === 0) {
    process.once('exit', () => writeCache(cache, script.createCachedData()));
    return;
  }
  const refresh = setTimeout(() => {
    const fuller = script.createCachedData();
    if (fuller.length >= loadedBytes * REFRESH_GROWTH) writeCache(cache, fuller);
  }, REFRESH_AFTER_MS);
  refresh.unref();
}

/** Best effort: a full disk or a read-only install leaves the bundle to load without a cache. */
function writeCache(cache: CacheFile, data: Buffer): void {
  const temporary = `${cache.file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(cache.folder, { recursive: true, mode: 0o700 });
    if (!ownedAndPrivate(fs.statSync(cache.folder))) return;
    fs.writeFileSync(temporary, data, { mode: 0o600, flag: 'wx' });
    fs.renameSync(temporary, cache.file);
    removeOlderCaches(cache);
  } catch {
    removeQuietly(temporary);
  }
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // Nothing was written there, or nothing can be: the cache is best effort.
  }
}

function removeOlderCaches(cache: CacheFile): void {
  for (const name of fs.readdirSync(cache.folder)) {
    if (name.startsWith(cache.siblingsPrefix) && name.endsWith('.v8') && path.join(cache.folder, name) !== cache.file) {
      removeQuietly(path.join(cache.folder, name));
    }
  }
}
