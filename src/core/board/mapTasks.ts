// Map tasks of the file board.
import * as fs from 'fs';
import * as path from 'path';
import { progressFromCounts, type Progress } from './types';
import { doneName, restingName } from './names';
import type { StoredTask } from './schema';
import { faultPoint } from './faults';
import type { AfterCommit } from './effects';
import { createMarker, nonce, readDirNames, renameIfPresent, unlinkIfPresent, unlinkQuietly } from './durable';
import { mapChildId } from './ids';
import type { BoardStore, Located, EndOutcome } from './store';

/**
 * Map tasks: a parent waits in waiting/ while its children run. Each child's end leaves a marker
 * in children/<parent>/ (`<child>.<outcome>`; `+<child>` for a child added later), so progress is
 * one small listing, and the last child's end moves the parent to done, dead or cancelled.
 */
export class MapTasks {
  constructor(private readonly store: BoardStore) {}

  /** The ids of a map task's children: its own, numbered, and those added with a parent id. */
  childIdsOf(parentId: string): string[] {
    const count = this.parentSpec(parentId)?.childCount ?? 0;
    const own = Array.from({ length: count }, (_, index) => mapChildId(parentId, index));
    const added = readDirNames(path.join(this.store.dirPath('children'), parentId))
      .filter((marker) => marker.startsWith('+'))
      .map((marker) => marker.slice(1));
    return [...own, ...added];
  }

  /** After a child's end committed: its marker, then the parent's completion. Never throws. */
  childEnded(parentId: string, childId: string, outcome: EndOutcome, effects: AfterCommit): void {
    faultPoint('child:before-marker');
    const marked = effects.attempt(`The end of ${childId} was not recorded for its map task ${parentId} (repair will record it)`, () =>
      createMarker(this.store.markerPath(parentId, `${childId}.${outcome}`)),
    );
    if (!marked) return;
    effects.attempt(`Map task ${parentId} could not be completed (repair will complete it)`, () => this.completeParentIfEnded(parentId, effects));
  }

  /**
   * Ends a waiting map task whose children have all ended. Its state says how the job went:
   * `dead` when a child died (it sits in the dead-letter queue beside that child, and requeueing
   * it requeues its dead children), `cancelled` when the map was cancelled or every child was,
   * else `done`. The counts are in its result (done) or its error history (dead) and in the event.
   */
  completeParentIfEnded(parentId: string, effects: AfterCommit): boolean {
    const progress = this.progress(parentId);
    const ended = (p: Progress): boolean => p.total > 0 && p.done + p.dead + p.cancelled >= p.total;
    if (!ended(progress)) return false;
    const cancelRequested = fs.existsSync(this.store.cancellingPath(parentId));
    const outcome: EndOutcome = cancelRequested ? 'cancelled' : progress.dead > 0 ? 'dead' : progress.done === 0 ? 'cancelled' : 'done';
    const summary = { done: progress.done, dead: progress.dead, cancelled: progress.cancelled, total: progress.total };
    const now = this.store.now();
    let sideFile: string | undefined;
    let target: string;
    if (outcome === 'done') {
      const resultNonce = nonce();
      sideFile = path.join(this.store.dirPath('results'), `${parentId}~${resultNonce}.json`);
      this.store.writeSideFile(sideFile, JSON.stringify(summary));
      target = this.store.filePath('done', doneName(parentId, 0, resultNonce));
    } else if (outcome === 'dead') {
      const message = `${summary.dead} of ${summary.total} children died (done ${summary.done}, cancelled ${summary.cancelled}); requeue this map task to retry them.`;
      sideFile = this.store.writeError(parentId, { attempt: 0, at: now, message, permanent: true, kind: 'failed' });
      target = this.store.filePath('dead', restingName(parentId, 0));
    } else {
      target = this.store.filePath('cancelled', restingName(parentId, 0));
    }
    faultPoint('parent:before-promote');
    // A child added while the side file was written counts: look once more before committing.
    if (!ended(this.progress(parentId)) || !this.store.commitRename(this.store.filePath('waiting', restingName(parentId, 0)), target, sideFile)) {
      if (sideFile) unlinkQuietly(sideFile);
      return false;
    }
    const subject = `Map task ${parentId} ended ${outcome}`;
    this.store.syncDirs([outcome], effects, subject);
    this.store.logEvents([{ at: now, type: 'parent-completed', taskId: parentId, detail: { outcome, ...summary } }], effects, subject);
    if (cancelRequested) effects.attempt(`${subject}, but its cancel marker could not be removed`, () => unlinkIfPresent(this.store.cancellingPath(parentId)));
    return true;
  }

  /** Moves an ended (done or dead) map task back to waiting/, so it ends again when its children do. */
  reopenParent(parent: Located, effects: AfterCommit): void {
    if (parent.dir !== 'done' && parent.dir !== 'dead') return;
    if (!renameIfPresent(this.store.filePath(parent.dir, parent.name), this.store.filePath('waiting', restingName(parent.parsed.id, 0)))) return;
    const subject = `Map task ${parent.parsed.id} was reopened`;
    if (parent.dir === 'done' && parent.parsed.nonce) {
      effects.attempt(`${subject}, but its old summary could not be removed`, () => unlinkIfPresent(path.join(this.store.dirPath('results'), `${parent.parsed.id}~${parent.parsed.nonce}.json`)));
    }
    this.store.logEvents([{ at: this.store.now(), type: 'reopened', taskId: parent.parsed.id, detail: { from: parent.dir } }], effects, subject);
  }

  /** Progress of a map task from one small directory listing (plus running/ for running children). */
  progress(parentId: string): Progress {
    this.store.assertId(parentId);
    return this.progressOf(parentId, readDirNames(this.store.dirPath('running')));
  }

  /** Progress with running/ already listed (stats() lists it once for every map task). */
  progressOf(parentId: string, runningNames: readonly string[]): Progress {
    const markers = readDirNames(path.join(this.store.dirPath('children'), parentId));
    const count = (suffix: string): number => markers.filter((marker) => marker.endsWith(suffix)).length;
    const added = markers.filter((marker) => marker.startsWith('+')).length;
    const total = (this.parentSpec(parentId)?.childCount ?? 0) + added;
    const done = count('.done');
    const dead = count('.dead');
    const cancelled = count('.cancelled');
    const running = runningNames.filter((name) => name.startsWith(`${parentId}.`)).length;
    return progressFromCounts({ total, done, dead, cancelled, running });
  }

  parentSpec(parentId: string): StoredTask | undefined {
    const cached = this.store.specCache.get(parentId);
    if (cached) return cached;
    const where = this.store.locate(parentId);
    return where ? this.store.readSpec(where.dir, where.name) : undefined;
  }
}
