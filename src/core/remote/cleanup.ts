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
import { PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT, RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT, followUpOf } from './workspace';

/** Statuses from which a task may still run again: a dead one can be requeued. */
const MAY_RUN: ReadonlySet<TaskStatus> = new Set(['pending', 'running', 'waiting', 'dead']);

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

/** What the board's tasks still need; `waitsForReview` says which done tasks are neither applied nor discarded. */
export function transportNeeds(tasks: readonly Task[], waitsForReview: (taskId: string) => boolean): TransportNeeds {
  const needs: TransportNeeds = { bundles: new Set(), snapshots: new Set(), results: new Set(), partials: new Set(), known: new Set() };
  for (const task of tasks) {
    const snapshotId = task.source?.snapshotId;
    if (!snapshotId) continue;
    needs.known.add(snapshotId);
    const mayRun = MAY_RUN.has(task.status);
    const waits = task.status === 'done' && waitsForReview(task.id);
    if (mayRun) {
      needs.bundles.add(snapshotId);
      needs.partials.add(task.id);
      // A follow-up that may still run starts from the result it follows up (its bundle on the board).
      const followed = followUpOf(task);
      if (followed) needs.results.add(followed);
    }
    if (mayRun || waits) needs.snapshots.add(snapshotId);
    if (waits) needs.results.add(task.id);
  }
  return needs;
}

export interface PruneSharedOptions {
  board: Pick<Board, 'list' | 'deleteArtifact'>;
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
  let artifacts = 0;
  const remove = async (taskId: string, name: string): Promise<void> => {
    if (await options.board.deleteArtifact(taskId, name)) artifacts += 1;
  };
  for (const snapshotId of needs.known) if (!needs.bundles.has(snapshotId)) await remove(snapshotId, SNAPSHOT_ARTIFACT);
  for (const task of tasks.filter((candidate) => candidate.source)) {
    if (!needs.results.has(task.id)) for (const name of [RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT]) await remove(task.id, name);
    if (!needs.partials.has(task.id)) for (const name of [PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT]) await remove(task.id, name);
  }
  const refs = options.repository ? await pruneTransportRefs(options.repository, needs) : 0;
  return { artifacts, refs };
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
