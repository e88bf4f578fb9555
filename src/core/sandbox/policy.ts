// Builds the policy of one command from the attempt's scope (paths the isolation reported) and the
// settings (cache folders, extra writable paths, network). Every path is resolved to its real
// location, because a bind or a seatbelt rule on a symlink would guard the link, not the folder.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CREATED_CACHE_DIRS, MASKED_SOCKETS, type SandboxMount, type SandboxPolicy, type SandboxScope, type SandboxSettings } from './types';

export interface PolicyInput {
  scope: SandboxScope;
  settings: Pick<SandboxSettings, 'network' | 'cacheDirs' | 'allowWrite'>;
  /** Paths under $HOME the executor's own CLI keeps its state in (agent presets). */
  homeState?: readonly string[];
  /** The command's environment: HOME, PATH and SSH_AUTH_SOCK are read from it. */
  env?: NodeJS.ProcessEnv;
}

export function buildSandboxPolicy(input: PolicyInput): SandboxPolicy {
  const env = input.env ?? process.env;
  const home = env.HOME || os.homedir();
  ensureCreatedCaches(home, input.settings.cacheDirs);
  const general = [...input.settings.cacheDirs, ...(input.homeState ?? [])].map((entry) => fromHome(home, entry)).concat(cachesNamedByEnvironment(env, home));
  const layers: SandboxMount[] = [
    ...existingReal([...general, ...input.settings.allowWrite.map((entry) => fromHome(home, entry))]).map((p) => ({ path: p, write: true })),
    ...existingReal(input.scope.protect).map((p) => ({ path: p, write: false })),
    ...existingReal(input.scope.writable).map((p) => ({ path: p, write: true })),
    ...existingReal(input.scope.protectAfter ?? []).map((p) => ({ path: p, write: false })),
  ];
  return {
    mounts: dropRedundantReadOnly(layers),
    visible: existingReal([...(input.scope.readable ?? []), input.scope.cwd, home, ...pathEntries(env.PATH), ...socketFolder(env.SSH_AUTH_SOCK)]),
    network: input.settings.network,
    masked: existingSockets([...MASKED_SOCKETS, ...userSockets(env)]),
  };
}

/**
 * Environment variables that move a package manager's cache out of $HOME. `npm test` and every npm
 * script set `npm_config_cache`, so `swarm run` started from a script (or a shell that sets one of
 * these) would otherwise find npm's cache read-only and every `npm install` in a task failing.
 */
export const CACHE_ENVIRONMENT_VARIABLES: readonly string[] = [
  'npm_config_cache',
  'NPM_CONFIG_CACHE',
  'XDG_CACHE_HOME',
  'YARN_CACHE_FOLDER',
  'PIP_CACHE_DIR',
  'GOMODCACHE',
  'GOCACHE',
];

/** The cache folders these variables name: absolute, and never $HOME, `/` or a folder holding $HOME. */
function cachesNamedByEnvironment(env: NodeJS.ProcessEnv, home: string): string[] {
  const named = CACHE_ENVIRONMENT_VARIABLES.map((name) => env[name]).filter((value): value is string => !!value && path.isAbsolute(value));
  const realHome = realOr(home);
  return named.filter((folder) => {
    const real = realOr(folder);
    return real !== path.parse(real).root && !isInside(realHome, real);
  });
}

/**
 * The kernel's realpath (one system call), not Node's JavaScript one (an lstat per path component):
 * the same answer, and the policy is built for every attempt, over a few dozen paths.
 */
const realPath = (entry: string): string => fs.realpathSync.native(entry);

function realOr(entry: string): string {
  try {
    return realPath(entry);
  } catch {
    return path.resolve(entry);
  }
}

/** Docker and Podman in rootless mode listen under $XDG_RUNTIME_DIR. */
function userSockets(env: NodeJS.ProcessEnv): string[] {
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime && path.isAbsolute(runtime) ? [path.join(runtime, 'docker.sock'), path.join(runtime, 'podman', 'podman.sock')] : [];
}

function existingSockets(candidates: readonly string[]): string[] {
  return existingReal(candidates).filter((candidate) => fs.statSync(candidate, { throwIfNoEntry: false })?.isSocket());
}

/** `~/x` and relative entries are under $HOME; absolute ones stay. */
export function fromHome(home: string, entry: string): string {
  if (entry === '~') return home;
  if (entry.startsWith('~/')) return path.join(home, entry.slice(2));
  return path.isAbsolute(entry) ? entry : path.join(home, entry);
}

/** Real paths of the entries that exist, without duplicates, in their order. */
function existingReal(entries: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const entry of entries) {
    // Most cache folders of the default list are absent: asking first is cheaper than a thrown error.
    if (!fs.existsSync(entry)) continue;
    try {
      seen.add(realPath(entry));
    } catch {
      // Not there: nothing to open or protect.
    }
  }
  return [...seen];
}

/** A read-only layer matters only inside an earlier writable one; elsewhere everything is read-only already. */
function dropRedundantReadOnly(layers: SandboxMount[]): SandboxMount[] {
  const kept: SandboxMount[] = [];
  for (const layer of layers) {
    if (!layer.write && !kept.some((earlier) => earlier.write && isInside(layer.path, earlier.path))) continue;
    kept.push(layer);
  }
  return kept;
}

export function isInside(candidate: string, folder: string): boolean {
  if (candidate === folder) return true;
  const relative = path.relative(folder, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** `.npm` and `.cache` are made when missing, as npm or pip would on first use. */
function ensureCreatedCaches(home: string, cacheDirs: readonly string[]): void {
  for (const entry of cacheDirs) {
    if (!CREATED_CACHE_DIRS.includes(entry)) continue;
    try {
      fs.mkdirSync(path.join(home, entry), { recursive: true });
    } catch {
      // A read-only or missing home: the folder stays unavailable, as it would outside the sandbox.
    }
  }
}

function pathEntries(value: string | undefined): string[] {
  return (value ?? '').split(path.delimiter).filter((entry) => path.isAbsolute(entry));
}

function socketFolder(socket: string | undefined): string[] {
  return socket && path.isAbsolute(socket) ? [path.dirname(socket)] : [];
}
