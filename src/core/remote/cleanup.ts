// Housekeeping of the transport between machines. A shared board keeps, per post, the snapshot
// bundle (under the snapshot's id) and, per task, the result and partial-work bundles; the poster
// keeps each snapshot on refs/swarm-base/<snapshot id>. Each is needed only while some task may
// still run from it or its result still waits for review; after that it is removed here.
import type { Board } from '../board/interface';
import { listAllTasks } from '../board/paging';
import type { Task, TaskStatus } from '../board/types';
import { gitText, runGit } from '../worktree/git';
import { RESULT_REF_PREFIX, SNAPSHOT_REF_PREFIX } from './descriptor';
import { isSnapshotId, SNAPSHOT_ARTIFACT } from './post';
import { PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT, RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT, followUpOf } from './artifacts';

/** Statuses from which a task may still run again: a dead one can be requeued. */
const MAY_RUN: ReadonlySet<TaskStatus> = new Set(['pending', 'running', 'waiting', 'dead']);

/**
 * How long the transport of a task that ended stays on a shared board without a prune: a done
 * task's result bundle (and its post's snapshot bundle) for review and follow-ups, a dead task's
 * bundles for a requeue. Cancelled tasks keep nothing.
 */
export const DEFAULT_TRANSPORT_RETENTION_MS = 7 * 24 * 3_600_000;

export interface TransportNeeds {
  /** Snapshot ids whose bundle a runner may still import (a task of that post may still run). */
  bundles: Set<string>;
  /** Snapshot ids the poster keeps: a task may still run, or a result built on it waits for review. */
  snapshots: Set<string>;
  /** Tasks whose result bundle may still be imported (their result waits for review). */
  results: Set<string>;
  /** Tasks a retry may still resume from partial work. */
  partials: Set<string>;
  /** Every snapshot id the board's tasks name, needed or not. */
  known: Set<string>;
}

/**
 * What the board's tasks still need; `waitsForReview` says which done tasks are neither applied nor
 * discarded, `mayRun` which tasks may still run (default: not done nor cancelled).
 */
export function transportNeeds(tasks: readonly Task[], waitsForReview: (taskId: string) => boolean, mayRunAgain: (task: Task) => boolean = (task) => MAY_RUN.has(task.status)): TransportNeeds {
  const needs: TransportNeeds = { bundles: new Set(), snapshots: new Set(), results: new Set(), partials: new Set(), known: new Set() };
  for (const task of tasks) {
    const snapshotId = task.source?.snapshotId;
    if (!snapshotId) continue;
    needs.known.add(snapshotId);
    const mayRun = mayRunAgain(task);
    const waits = task.status === 'done' && waitsForReview(task.id);
    if (mayRun) {
      needs.partials.add(task.id);
      // A follow-up that may still run starts from the result it follows up (its bundle on the board).
      const followed = followUpOf(task);
      if (followed) needs.results.add(followed);
    }
    // A result waiting for review may get a follow-up (Request Changes), which runs from the same
    // snapshot: its bundle stays too.
    if (mayRun || waits) {
      needs.bundles.add(snapshotId);
      needs.snapshots.add(snapshotId);
    }
    if (waits) needs.results.add(task.id);
  }
  return needs;
}

/**
 * What the board's tasks need by age alone (a runner has none of the poster's review records): a
 * done task's result for `retentionMs` after it finished, a dead task's bundles as long (it may be
 * requeued), nothing of a cancelled task.
 */
export function transportNeedsByAge(tasks: readonly Task[], now: number, retentionMs: number): TransportNeeds {
  const recent = (task: Task): boolean => now - task.updatedAt < retentionMs;
  const byId = new Map(tasks.map((task) => [task.id, task]));
  return transportNeeds(
    tasks,
    (taskId) => {
      const task = byId.get(taskId);
      return task !== undefined && recent(task);
    },
    (task) => task.status === 'pending' || task.status === 'running' || task.status === 'waiting' || (task.status === 'dead' && recent(task)),
  );
}

export interface PruneSharedOptions {
  board: Pick<Board, 'list' | 'listArtifacts' | 'deleteArtifact'>;
  /** Done tasks whose result is neither applied nor discarded (the poster's review records). */
  waitsForReview: (taskId: string) => boolean;
  /** The poster's repository: its refs/swarm-base/<snapshot id> and refs/swarm-result/<id> go too. */
  repository?: string;
}

export interface PrunedTransport {
  artifacts: number;
  refs: number;
}

/**
 * Removes the bundles and refs no task needs any more: a post's snapshot bundle once none of its
 * tasks may run again, a task's result bundle once its result is applied or discarded, its
 * partial-work bundle once it cannot be retried, and the poster's refs to match.
 */
export async function pruneSharedTransport(options: PruneSharedOptions): Promise<PrunedTransport> {
  const tasks = await listAllTasks(options.board);
  const needs = transportNeeds(tasks, options.waitsForReview);
  const artifacts = await removeUnneeded(options.board, tasks, needs);
  const refs = options.repository ? await pruneTransportRefs(options.repository, needs) : 0;
  return { artifacts, refs };
}

export interface ExpireTransportOptions {
  board: Pick<Board, 'list' | 'listArtifacts' | 'deleteArtifact'>;
  /** Default DEFAULT_TRANSPORT_RETENTION_MS. */
  retentionMs?: number;
  now?: number;
}

/**
 * The board's retention of transport artifacts, run by runners (no prune needed): removes the
 * bundles of tasks that ended — cancelled at once, done or dead once `retentionMs` passed since —
 * and a post's snapshot bundle once none of its tasks needs it. Returns how many were removed.
 */
export async function expireSharedTransport(options: ExpireTransportOptions): Promise<number> {
  const tasks = await listAllTasks(options.board);
  const needs = transportNeedsByAge(tasks, options.now ?? Date.now(), options.retentionMs ?? DEFAULT_TRANSPORT_RETENTION_MS);
  return removeUnneeded(options.board, tasks, needs, { onlyListed: true });
}

/**
 * Deletes the transport artifacts `needs` does not keep. With `onlyListed` a task's artifacts are
 * listed first and only those present are deleted (one call per task, not one per name: a sweep
 * that runs every hour mostly finds nothing to delete).
 */
async function removeUnneeded(board: Pick<Board, 'listArtifacts' | 'deleteArtifact'>, tasks: readonly Task[], needs: TransportNeeds, options: { onlyListed?: boolean } = {}): Promise<number> {
  let removed = 0;
  const removeFrom = async (taskId: string, names: readonly string[]): Promise<void> => {
    if (names.length === 0) return;
    const present = options.onlyListed ? new Set((await board.listArtifacts(taskId)).map((artifact) => artifact.name)) : undefined;
    for (const name of names) if ((!present || present.has(name)) && (await board.deleteArtifact(taskId, name))) removed += 1;
  };
  for (const snapshotId of needs.known) if (!needs.bundles.has(snapshotId)) await removeFrom(snapshotId, [SNAPSHOT_ARTIFACT]);
  for (const task of tasks.filter((candidate) => candidate.source)) {
    const names = [...(needs.results.has(task.id) ? [] : [RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT]), ...(needs.partials.has(task.id) ? [] : [PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT])];
    await removeFrom(task.id, names);
  }
  return removed;
}

/**
 * The poster's snapshot refs (refs/swarm-base/<snapshot id>) of snapshots no task needs, and
 * imported results (refs/swarm-result/<id>) no review needs. A base ref named by a task id is the
 * worktree isolation's (pruneSwarmRefs decides about it).
 */
async function pruneTransportRefs(repository: string, needs: TransportNeeds): Promise<number> {
  const listed = await gitText(['for-each-ref', '--format=%(refname)', SNAPSHOT_REF_PREFIX, RESULT_REF_PREFIX], { cwd: repository });
  const doomed = listed
    .split('\n')
    .filter(Boolean)
    .filter((ref) => {
      if (ref.startsWith(RESULT_REF_PREFIX)) return !needs.results.has(ref.slice(RESULT_REF_PREFIX.length));
      const id = ref.slice(SNAPSHOT_REF_PREFIX.length);
      return isSnapshotId(id) && !needs.snapshots.has(id);
    });
  if (doomed.length === 0) return 0;
  await runGit(['update-ref', '--stdin'], { cwd: repository, input: doomed.map((ref) => `delete ${ref}\n`).join('') });
  return doomed.length;
}
