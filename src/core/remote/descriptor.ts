// What a task carries about its starting point and what a runner sends back, as plain JSON for the
// board. Both arrive from other machines, so every field is checked before use: ids are object ids,
// refs are in the namespaces chosen here, the repository identity matches the URL.
import { isValidId } from '../board/names';
import { BASE_REF_PREFIX, PARTIAL_REF_PREFIX as WORKTREE_PARTIAL_REF_PREFIX } from '../worktree/worktreeIsolation';
import { isObjectId } from './bundle';
import { untrusted } from './errors';
import { normaliseRepositoryUrl } from './identity';

export const REMOTE_FORMAT = 1;

/** Where the developer keeps a task's snapshot (the same ref worktree isolation keeps its base on). */
export const SNAPSHOT_REF_PREFIX = BASE_REF_PREFIX;
/** Where a runner keeps an imported snapshot. */
export const IMPORTED_REF_PREFIX = 'refs/swarm-in/';
/** A finished result commit (parent: the snapshot), for review and follow-ups. */
export const RESULT_REF_PREFIX = 'refs/swarm-result/';
/** Partial work of an attempt that did not finish (as worktree isolation keeps it). */
export const PARTIAL_REF_PREFIX = WORKTREE_PARTIAL_REF_PREFIX;

export type BundleKind = 'thin' | 'full' | 'none';

export interface SnapshotDescriptor {
  format: typeof REMOTE_FORMAT;
  taskId: string;
  /** Normalised identity of the repository (`github.com/a/b`, `file:///path`, `unpublished:<root commit>`). */
  repository: string;
  /** Where runners fetch history from, without credentials; absent when the repository has no remote. */
  url?: string;
  /** The workspace folder inside the repository ('' or `sub/dir`). */
  prefix: string;
  /** A commit the remote has that the bundle builds on (thin), or the snapshot itself (none). */
  base?: string;
  snapshot: string;
  /** The one head the bundle carries. */
  ref: string;
  /** thin: builds on `base`; full: the whole history; none: the snapshot is on the remote already. */
  bundle: BundleKind;
  bundleBytes: number;
  bundleSha256?: string;
}

export type ResultKind = 'result' | 'partial';

export interface ResultDescriptor {
  format: typeof REMOTE_FORMAT;
  taskId: string;
  kind: ResultKind;
  /** The snapshot the attempt started from (the patch's base, the result commit's parent). */
  snapshot: string;
  /** The result commit; equal to `snapshot` when nothing changed (then there is no bundle). */
  commit: string;
  /** The one head the result bundle carries. */
  ref: string;
  patchBytes: number;
  patchSha256: string;
  bundleBytes: number;
  bundleSha256?: string;
}

/** Task ids become ref names: the board's id rule, minus what git forbids in a ref component. */
export function assertRefSafeTaskId(taskId: unknown): asserts taskId is string {
  if (typeof taskId !== 'string' || !isValidId(taskId) || taskId.includes('..') || taskId.endsWith('.') || taskId.endsWith('.lock')) {
    throw untrusted(`"${String(taskId).slice(0, 100)}" is not a valid task id.`);
  }
}

export function resultRef(taskId: string, kind: ResultKind): string {
  return `${kind === 'partial' ? PARTIAL_REF_PREFIX : RESULT_REF_PREFIX}${taskId}`;
}

type Fields = Record<string, unknown>;

function asObject(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw untrusted(`The ${what} is not an object.`);
  const fields = value as Fields;
  if (fields.format !== REMOTE_FORMAT) throw untrusted(`The ${what} has format ${JSON.stringify(fields.format)}; this Agent Swarm reads format ${REMOTE_FORMAT}: update it on this machine.`);
  return fields;
}

function objectId(fields: Fields, name: string, what: string): string {
  const value = fields[name];
  if (!isObjectId(value)) throw untrusted(`The ${what}'s ${name} is not a commit id.`);
  return value;
}

function byteCount(fields: Fields, name: string, what: string): number {
  const value = fields[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw untrusted(`The ${what}'s ${name} is not a byte count.`);
  return value;
}

function optionalSha(fields: Fields, name: string, what: string): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) throw untrusted(`The ${what}'s ${name} is not a SHA-256.`);
  return value;
}

/** Checks a snapshot descriptor from the board; returns a clean copy or throws `untrusted-input`. */
export function readSnapshotDescriptor(value: unknown): SnapshotDescriptor {
  const what = 'task snapshot descriptor';
  const fields = asObject(value, what);
  assertRefSafeTaskId(fields.taskId);
  const taskId = fields.taskId;
  const snapshot = objectId(fields, 'snapshot', what);
  const bundle = fields.bundle;
  if (bundle !== 'thin' && bundle !== 'full' && bundle !== 'none') throw untrusted(`The ${what}'s bundle kind is not thin, full or none.`);
  const base = bundle === 'full' ? undefined : objectId(fields, 'base', what);
  if (bundle === 'none' && base !== snapshot) throw untrusted(`The ${what} has no bundle, but its base is not its snapshot.`);
  if (fields.ref !== `${SNAPSHOT_REF_PREFIX}${taskId}`) throw untrusted(`The ${what} names the ref ${String(fields.ref).slice(0, 100)}, not ${SNAPSHOT_REF_PREFIX}${taskId}.`);
  const prefix = fields.prefix ?? '';
  if (typeof prefix !== 'string' || prefix.startsWith('/') || prefix.split('/').some((part) => part === '..' || part === '.git') || /[\0\\]/.test(prefix) || prefix.length > 1000) {
    throw untrusted(`The ${what}'s workspace folder "${String(prefix).slice(0, 100)}" is not a folder inside the repository.`);
  }
  const repository = fields.repository;
  if (typeof repository !== 'string' || repository.length === 0 || repository.length > 2000 || /[\0-\x1f]/.test(repository)) throw untrusted(`The ${what} has no repository identity.`);
  const url = fields.url;
  if (url !== undefined) {
    if (typeof url !== 'string' || url.length > 2000 || /[\0-\x1f\s]/.test(url) || url.startsWith('-')) throw untrusted(`The ${what}'s URL is not a repository URL.`);
    // The identity is what selects a clone or mirror; it must be the URL's, or a task could
    // fetch one repository's history into another's cache.
    if (identityOf(url) !== repository) throw untrusted(`The ${what}'s URL ${url} is not the repository ${repository}.`);
  } else if (!/^unpublished:[0-9a-f]{40,64}$/.test(repository)) {
    throw untrusted(`The ${what} has neither a remote URL nor an unpublished-repository identity.`);
  }
  const bundleBytes = byteCount(fields, 'bundleBytes', what);
  if ((bundle === 'none') !== (bundleBytes === 0)) throw untrusted(`The ${what}'s bundle size does not fit its bundle kind.`);
  const descriptor: SnapshotDescriptor = { format: REMOTE_FORMAT, taskId, repository, prefix, snapshot, ref: fields.ref, bundle, bundleBytes };
  if (url !== undefined) descriptor.url = url as string;
  if (base !== undefined) descriptor.base = base;
  const bundleSha256 = optionalSha(fields, 'bundleSha256', what);
  if (bundleSha256) descriptor.bundleSha256 = bundleSha256;
  return descriptor;
}

/** Checks a result descriptor from a runner; returns a clean copy or throws `untrusted-input`. */
export function readResultDescriptor(value: unknown): ResultDescriptor {
  const what = 'result descriptor';
  const fields = asObject(value, what);
  assertRefSafeTaskId(fields.taskId);
  const taskId = fields.taskId;
  const kind = fields.kind;
  if (kind !== 'result' && kind !== 'partial') throw untrusted(`The ${what}'s kind is not result or partial.`);
  const ref = resultRef(taskId, kind);
  if (fields.ref !== ref) throw untrusted(`The ${what} names the ref ${String(fields.ref).slice(0, 100)}, not ${ref}.`);
  const descriptor: ResultDescriptor = {
    format: REMOTE_FORMAT,
    taskId,
    kind,
    snapshot: objectId(fields, 'snapshot', what),
    commit: objectId(fields, 'commit', what),
    ref,
    patchBytes: byteCount(fields, 'patchBytes', what),
    patchSha256: optionalSha(fields, 'patchSha256', what) ?? '',
    bundleBytes: byteCount(fields, 'bundleBytes', what),
  };
  if (!descriptor.patchSha256) throw untrusted(`The ${what} has no patch checksum.`);
  if ((descriptor.commit === descriptor.snapshot) !== (descriptor.bundleBytes === 0)) throw untrusted(`The ${what}'s bundle size does not fit its commits.`);
  const bundleSha256 = optionalSha(fields, 'bundleSha256', what);
  if (bundleSha256) descriptor.bundleSha256 = bundleSha256;
  return descriptor;
}

function identityOf(url: string): string | undefined {
  try {
    return normaliseRepositoryUrl(url, '/');
  } catch {
    return undefined;
  }
}
