// Requeueing dead tasks on the file board.
import * as fs from 'fs';
import { BoardInputError, type Task } from './types';
import { parseName, pendingName, restingName } from './names';
import type { StoredTask } from './schema';
import { faultPoint } from './faults';
import { createMarker, readDirNames, renameIfPresent, unlinkIfPresent } from './durable';
import { type BoardStore, type Located, STATUS_OF_DIR, queueKey } from './store';
import type { MapTasks } from './mapTasks';

/** Requeue from the dead-letter queue: one task, a map's dead children, or every dead task. */
export class Requeuer {
  constructor(
    private readonly store: BoardStore,
    private readonly maps: MapTasks,
  ) {}

  /**
   * Moves a dead task back to pending with a fresh attempt budget; its error history is kept. A
   * child of an ended map reopens the map (it ends again, with a new summary, when its children
   * have); requeueing a dead map task requeues its dead children.
   */
  requeue(id: string): Task {
    const where = this.store.requireLocated(id);
    if (where.dir !== 'dead') throw new BoardInputError(`Task ${id} is ${STATUS_OF_DIR[where.dir]}, not dead; only dead tasks can be requeued.`);
    const requeued = this.requeueDead(where);
    if (!requeued) throw new BoardInputError(`Task ${id} was requeued by someone else.`);
    return requeued[0];
  }

  /**
   * Requeues every dead task (a map task through its dead children); one that cannot be requeued
   * (its map was cancelled) stays in the dead-letter queue, with a warning. Returns the tasks
   * that are pending again.
   */
  requeueAll(): Task[] {
    const requeued: Task[] = [];
    for (const name of readDirNames(this.store.dirPath('dead'))) {
      const parsed = parseName('dead', name);
      if (!parsed) continue;
      try {
        const tasks = this.requeueDead({ dir: 'dead', name, parsed }) ?? []; // gone: requeued already, with its map
        requeued.push(...tasks.filter((task) => task.status === 'pending'));
      } catch (error) {
        if (!(error instanceof BoardInputError)) throw error;
        this.store.onWarning(`${error.message} It stays in the dead-letter queue.`);
      }
    }
    return requeued;
  }

  /** The requeued task first, then the children requeued with a map; undefined when its file moved away. */
  private requeueDead(where: Located): Task[] | undefined {
    const spec = this.store.specAt(where);
    if (!spec) return undefined;
    if (spec.childCount !== undefined) return this.requeueMap(where, spec);
    const parent = spec.parentId ? this.requireOpenableParent(spec) : undefined;
    const task = this.requeueOne(where, spec, parent);
    return task && [task];
  }

  /** Where the map of a dead child is; refused when the map was cancelled or is gone. */
  private requireOpenableParent(spec: StoredTask): Located {
    const parentId = spec.parentId!;
    const parent = this.store.locate(parentId);
    if (!parent) throw new BoardInputError(`Task ${spec.id} belongs to map task ${parentId}, which no longer exists; post the task again instead.`);
    if (parent.dir === 'cancelled' || fs.existsSync(this.store.cancellingPath(parentId))) {
      throw new BoardInputError(`Task ${spec.id} belongs to map task ${parentId}, which was cancelled; post the task again instead.`);
    }
    return parent;
  }

  /** One dead task back to pending (its ended map reopened first); undefined when it moved away. */
  private requeueOne(where: Located, spec: StoredTask, parent: Located | undefined): Task | undefined {
    const id = spec.id;
    const effects = this.store.afterCommit();
    const marker = spec.parentId ? this.store.markerPath(spec.parentId, `${id}.dead`) : undefined;
    const restoreMarker = (): void => {
      if (marker) createMarkerQuietly(marker);
    };
    if (marker && parent) {
      // The marker goes first: with it gone the map cannot end (again) before this child does.
      unlinkIfPresent(marker);
      try {
        this.maps.reopenParent(parent, effects);
      } catch (error) {
        restoreMarker();
        throw error;
      }
    }
    faultPoint('requeue:before-rename');
    let moved: boolean;
    try {
      moved = renameIfPresent(this.store.filePath('dead', where.name), this.store.filePath('pending', pendingName(queueKey(spec, 0))));
    } catch (error) {
      restoreMarker();
      throw error;
    }
    if (!moved) return undefined;
    faultPoint('requeue:after-rename');
    const subject = `Task ${id} was requeued`;
    this.store.syncDirs(['pending'], effects, subject);
    this.store.pendingChanged();
    this.store.logEvents([{ at: this.store.now(), type: 'requeued', taskId: id }], effects, subject);
    return effects.attach(this.store.toTask(spec, 'pending', { id, attempts: 0 }));
  }

  /** A dead map task: requeue its dead children (the first one reopens it). */
  private requeueMap(where: Located, spec: StoredTask): Task[] {
    const parentId = spec.id;
    const children = new Set(this.maps.childIdsOf(parentId));
    const requeued: Task[] = [];
    let parent: Located = where;
    for (const name of readDirNames(this.store.dirPath('dead'))) {
      const parsed = parseName('dead', name);
      if (!parsed || !children.has(parsed.id)) continue;
      const child: Located = { dir: 'dead', name, parsed };
      const childSpec = this.store.specAt(child);
      const task = childSpec && this.requeueOne(child, childSpec, parent);
      if (!task) continue;
      requeued.push(task);
      parent = { ...where, dir: 'waiting', name: restingName(parentId, 0) }; // reopened by the first child
    }
    const effects = this.store.afterCommit();
    if (requeued.length === 0) {
      // No dead child left (they were requeued one by one): reopen, and let it end by its children.
      this.maps.reopenParent(where, effects);
      effects.attempt(`Map task ${parentId} could not be completed (repair will complete it)`, () => this.maps.completeParentIfEnded(parentId, effects));
    }
    const parentTask = this.store.get(parentId) ?? this.store.toTask(spec, 'waiting', { id: parentId, attempts: 0 });
    const warnings = [...requeued.flatMap((task) => task.warnings ?? []), ...effects.warnings];
    return [warnings.length > 0 ? { ...parentTask, warnings } : parentTask, ...requeued];
  }
}

function createMarkerQuietly(file: string): void {
  try {
    createMarker(file);
  } catch {
    // Repair re-creates end markers from the ended folders.
  }
}
