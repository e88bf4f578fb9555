// Posting to a shared board (Redis): the tasks will run on other machines, so the post takes the
// snapshot of the poster's working state now (tree and index untouched), stores its bundle once as
// a board artifact, and records on every task of the batch the same typed `source`. A file board
// keeps today's behaviour (a local slot snapshots when it starts).
import * as crypto from 'crypto';
import type { Board } from '../board/interface';
import { findGitRepository } from '../board/gitExclude';
import { NotAGitRepositoryError } from '../worktree/repo';
import { RemoteGitError } from './errors';
import { SNAPSHOT_REF_PREFIX, type SnapshotDescriptor } from './descriptor';
import { REMOTE_FORMAT } from './descriptor';
import { snapshotForRemote, type LeftOutFile } from './snapshot';
import type { Task, TaskSource, TaskSpec } from '../board/types';

/** The artifact that holds a post's snapshot bundle (stored under the snapshot's own id). */
export const SNAPSHOT_ARTIFACT = 'snapshot.bundle';

/** Whether tasks on this board may run on other machines (a Redis board), so they need a source. */
export function isSharedBoard(board: Pick<Board, 'describe'>): boolean {
  return /^rediss?:\/\//i.test(board.describe());
}

/**
 * A fresh name for one post's snapshot: a valid task id (the board stores the bundle under it) and a
 * valid ref component (the bundle's head is refs/swarm-base/<id>); never the id of a real task.
 */
export function newSnapshotId(): string {
  return `snap.${Date.now().toString(36)}.${crypto.randomBytes(6).toString('hex')}`;
}

/** A post's snapshot id as newSnapshotId makes it (the board's generated task ids never look like this). */
export function isSnapshotId(id: string): boolean {
  return /^snap\.[0-9a-z]+\.[0-9a-f]{12}$/.test(id);
}

export interface PostSnapshotOptions {
  board: Pick<Board, 'putArtifact'>;
  workspaceRoot: string;
  /** Every task of the batch: the untracked files any of them names travel in the one snapshot. */
  specs: readonly TaskSpec[];
  remote?: string;
  /** Largest bundle; default the board's default artifact cap. */
  maxBundleBytes?: number;
}

export interface PostSnapshot {
  source: TaskSource;
  leftOut: LeftOutFile[];
}

/**
 * Takes the batch's snapshot and stores its bundle. Throws RemoteGitError (too large, no usable
 * remote, disk full) before anything is stored; the caller posts the tasks only after this returned,
 * so a task is never claimable without its bundle.
 */
export async function snapshotForPost(options: PostSnapshotOptions): Promise<PostSnapshot> {
  const snapshotId = newSnapshotId();
  const files = [...new Set(options.specs.flatMap((spec) => spec.files ?? []))];
  const taken = await snapshotForRemote({ workspaceRoot: options.workspaceRoot, taskId: snapshotId, files, remote: options.remote, maxBundleBytes: options.maxBundleBytes }).catch((error: unknown) => {
    if (!(error instanceof NotAGitRepositoryError)) throw error;
    throw new RemoteGitError('config', `${options.workspaceRoot} is not inside a git repository, and tasks on a shared board start from your git working state on other machines: post from your checkout.`);
  });
  const source = sourceOf(taken.descriptor);
  if (taken.bundle) {
    await options.board.putArtifact(snapshotId, SNAPSHOT_ARTIFACT, taken.bundle);
    source.artifact = { taskId: snapshotId, name: SNAPSHOT_ARTIFACT };
  }
  return { source, leftOut: taken.leftOut };
}

function sourceOf(descriptor: SnapshotDescriptor): TaskSource {
  const source: TaskSource = { repository: descriptor.repository, prefix: descriptor.prefix, snapshot: descriptor.snapshot, snapshotId: descriptor.taskId, bundle: descriptor.bundle, bundleBytes: descriptor.bundleBytes };
  if (descriptor.url) source.url = descriptor.url;
  if (descriptor.base) source.base = descriptor.base;
  if (descriptor.bundleSha256) source.bundleSha256 = descriptor.bundleSha256;
  return source;
}

/** Where a batch is posted from: every poster (CLI, MCP, the extension) goes through one path. */
export interface PostPlace {
  board: Board;
  /** The poster's working copy: its state travels with the tasks on a shared board (none: no snapshot). */
  workspaceRoot: string | undefined;
  /** Shared board: the git remote runners fetch from (default origin, else the only remote). */
  remote?: string;
  /** Notes for the person posting (what stayed home, no snapshot outside git). */
  note?: (line: string) => void;
}

/** Posts a batch: on a shared board all of it carries one snapshot of the poster's working state. */
export async function postTasks(place: PostPlace, specs: TaskSpec[]): Promise<Task[]> {
  return place.board.postMany(await withSource(place, specs));
}

/** Posts a map task; only its children run, so only they carry the snapshot. */
export async function postMap(place: PostPlace, parent: TaskSpec, children: TaskSpec[]): Promise<{ parent: Task; children: Task[] }> {
  return place.board.map(parent, await withSource(place, children));
}

/**
 * On a shared board the tasks run on other machines: one snapshot of the working copy for the whole
 * batch, its bundle stored once, and the same source on every task. Throws a RemoteGitError that
 * starts "Nothing was posted:" when the snapshot cannot be taken or stored (a batch is all or
 * nothing). A file board: the specs unchanged (a local slot snapshots when it starts).
 */
export async function withSource(place: PostPlace, specs: TaskSpec[]): Promise<TaskSpec[]> {
  if (!isSharedBoard(place.board)) {
    if (place.remote !== undefined) throw new RemoteGitError('config', 'A remote only applies to a shared (redis://) board, whose tasks run on other machines.');
    return specs;
  }
  // Outside git there is no working state to send (a pure command task): posted as before, and said.
  const workspaceRoot = place.workspaceRoot;
  if (!workspaceRoot || !findGitRepository(workspaceRoot)) {
    place.note?.(`Note: ${workspaceRoot ? 'this folder is not in a git repository' : 'no folder is open'}, so the tasks carry no snapshot; runners start them from their own clone.`);
    return specs;
  }
  let taken: PostSnapshot;
  try {
    taken = await snapshotForPost({ board: place.board, workspaceRoot, specs, remote: place.remote });
  } catch (error) {
    if (!(error instanceof RemoteGitError)) throw error;
    throw new RemoteGitError(error.problem, `Nothing was posted: ${error.message}`);
  }
  const leftOut = describeLeftOut(taken.leftOut);
  if (leftOut) place.note?.(leftOut);
  return specs.map((spec) => ({ ...spec, source: taken.source }));
}

/** The snapshot descriptor a runner checks (as untrusted input) before it imports a task's source. */
export function descriptorOf(source: TaskSource): SnapshotDescriptor {
  const descriptor: SnapshotDescriptor = {
    format: REMOTE_FORMAT,
    taskId: source.snapshotId,
    repository: source.repository,
    prefix: source.prefix,
    snapshot: source.snapshot,
    ref: `${SNAPSHOT_REF_PREFIX}${source.snapshotId}`,
    bundle: source.bundle,
    bundleBytes: source.bundleBytes,
  };
  if (source.url !== undefined) descriptor.url = source.url;
  if (source.base !== undefined) descriptor.base = source.base;
  if (source.bundleSha256 !== undefined) descriptor.bundleSha256 = source.bundleSha256;
  return descriptor;
}

/** One line for the post's output: what stayed on this machine. */
export function describeLeftOut(leftOut: readonly LeftOutFile[]): string | undefined {
  if (leftOut.length === 0) return undefined;
  const reasons: Record<LeftOutFile['reason'], string> = { ignored: 'ignored by git', 'include-list': 'on the include list', 'outside-workspace': 'outside the workspace' };
  const listed = leftOut.slice(0, 10).map((file) => `${file.path} (${reasons[file.reason]})`).join(', ');
  return `Not sent to runners: ${listed}${leftOut.length > 10 ? ` and ${leftOut.length - 10} more` : ''}.`;
}
