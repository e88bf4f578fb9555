// Runs a CommonJS bundle the way Node's loader would, with V8's code cache: every `swarm` command
// and every agent process parses and compiles its 0.5–1.2 MB bundle again, and eight agents
// started at once on two cores wait for each other's compiles. Node 20 has no
// module.enableCompileCache, so the small entry bundles (dist/agent.js, dist/cli.js) load the big
// ones through this. The first process that runs a bundle without a usable cache writes one when it
// exits (with the functions it compiled by then); the next ones start from it.
//
// The cache is code this user's processes will run, so it lives only in a folder of this user that
// nobody else can write (checked before each use), and a file is keyed by the SHA-256 of the
// bundle's text: a rebuilt bundle never meets the bytecode of an older one. V8 itself rejects a
// cache made by another Node version or with other flags; then the bundle is compiled as usual.
// Any failure of the cache (no home, full disk, a foreign folder) only costs the compile it saves.
import { createHash } from 'crypto';
import * as fs from 'fs';
import Module from 'module';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';

/** `SWARM_COMPILE_CACHE`: a folder for the cache, or `off` to compile every time. */
export const COMPILE_CACHE_ENV = 'SWARM_COMPILE_CACHE';

/** How many cache files of one bundle stay (other builds, other checkouts); older ones are removed. */
const KEPT_PER_BUNDLE = 4;

/** A temporary file older than this was left by a writer that died (a write takes milliseconds). */
const ABANDONED_WRITE_MS = 60_000;

/** What happened to the cache for one load (for tests and the benchmark). */
export type CacheUse = 'off' | 'used' | 'rejected' | 'missing';

export interface RunBundleOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * A cache of its own for one way of running the bundle (`swarm run`): the cache holds what the
   * process that wrote it compiled, so a `swarm --version` must not write the one `swarm run` uses.
   */
  variant?: string;
  /** Told how the cache is used, before the bundle runs (it may exit the process). */
  onCacheUse?: (use: CacheUse) => void;
}

/** Runs `bundle` as a CommonJS module, from the code cache when one fits. */
export function runBundle(bundle: string, options: RunBundleOptions = {}): void {
  const env = options.env ?? process.env;
  const bytes = fs.readFileSync(bundle);
  const source = bytes.toString('utf8');
  const folder = cacheFolder(env);
  const cacheFile = folder === undefined ? undefined : path.join(folder, cacheFileName(bundle, bytes, options.variant));
  const cachedData = cacheFile === undefined ? undefined : readCache(cacheFile);
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const use: CacheUse = folder === undefined ? 'off' : cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'used';
  // Written at exit, so the cache holds the functions this run compiled, not only the top level.
  if (cacheFile !== undefined && use !== 'used') process.once('exit', () => writeCache(cacheFile, script));
  options.onCacheUse?.(use);
  const module = new Module(bundle, require.main);
  module.filename = bundle;
  // Node's own lookup folders for bare names (the bundles need none but builtins; kept for fidelity).
  const nodeModulePaths = (Module as unknown as { _nodeModulePaths?: (dir: string) => string[] })._nodeModulePaths;
  module.paths = typeof nodeModulePaths === 'function' ? nodeModulePaths(path.dirname(bundle)) : [];
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, Module.createRequire(bundle), module, bundle, path.dirname(bundle));
}

/**
 * The cache folder, made private when missing; undefined when the cache is off or the folder
 * could be written by someone else (another user's bytecode would run as this user).
 */
export function cacheFolder(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env[COMPILE_CACHE_ENV]?.trim();
  if (setting === 'off' || setting === '0') return undefined;
  const folder = setting ? path.resolve(setting) : defaultCacheFolder(env);
  try {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    return isPrivateFolder(folder) ? folder : undefined;
  } catch {
    return undefined;
  }
}

/** `$XDG_CACHE_HOME/agent-swarm/compile-cache` (a relative XDG_CACHE_HOME is ignored, as the XDG spec says), else under ~/.cache. */
function defaultCacheFolder(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : undefined;
  const base = xdg ?? (os.homedir() ? path.join(os.homedir(), '.cache') : path.join(os.tmpdir(), `agent-swarm-${process.getuid?.() ?? 'user'}`));
  return path.join(base, 'agent-swarm', 'compile-cache');
}

/** A real folder (not a link to one) of this user that no group or other user may write. */
function isPrivateFolder(folder: string): boolean {
  const stat = fs.lstatSync(folder);
  const ownUid = process.getuid?.();
  return stat.isDirectory() && (ownUid === undefined || stat.uid === ownUid) && (stat.mode & 0o022) === 0;
}

/**
 * `<bundle name>[-<variant>]-<hash>.cache`, the hash of the bundle's text and of the V8 that
 * compiled it: the CLI's Node and VS Code's (another V8) keep a cache each instead of replacing
 * each other's.
 */
export function cacheFileName(bundle: string, source: Buffer, variant?: string): string {
  const hash = createHash('sha256').update(`${process.versions.v8}\0${process.arch}\0`).update(source).digest('hex');
  const suffix = variant && /^[a-z]{1,20}$/.test(variant) ? `-${variant}` : '';
  return `${path.basename(bundle)}${suffix}-${hash.slice(0, 32)}.cache`;
}

function readCache(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written under a temporary name and renamed: a reader sees a whole cache or none. */
function writeCache(file: string, script: vm.Script): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, script.createCachedData(), { mode: 0o600, flag: 'wx' });
    fs.renameSync(temporary, file);
    removeOlderCaches(file);
  } catch {
    fs.rmSync(temporary, { force: true });
  }
}

/**
 * Keeps the newest few cache files of the same bundle (rebuilds leave one each), and removes the
 * temporary files of writers killed between their write and their rename.
 */
function removeOlderCaches(kept: string): void {
  const folder = path.dirname(kept);
  const prefix = path.basename(kept).replace(/-[0-9a-f]+\.cache$/, '-');
  const ofBundle = fs
    .readdirSync(folder)
    .filter((name) => name.startsWith(prefix) && /^[0-9a-f]+\.cache(\.\d+\.tmp)?$/.test(name.slice(prefix.length)))
    .map((name) => ({ name, mtimeMs: fs.statSync(path.join(folder, name)).mtimeMs }));
  const caches = ofBundle.filter(({ name }) => name.endsWith('.cache')).sort((a, b) => b.mtimeMs - a.mtimeMs);
  const abandoned = ofBundle.filter(({ name, mtimeMs }) => name.endsWith('.tmp') && Date.now() - mtimeMs > ABANDONED_WRITE_MS);
  for (const { name } of [...caches.slice(KEPT_PER_BUNDLE), ...abandoned]) fs.rmSync(path.join(folder, name), { force: true });
}
