// Posting tasks to the file board.
import * as fs from 'fs';
import * as path from 'path';
import { threadId } from 'worker_threads';
import { type BoardEvent, BoardInputError, type Task, type TaskSpec } from './types';
import { delayedName, pendingName, restingName } from './names';
import { type StoredTask, buildStoredTask } from './schema';
import { faultPoint } from './faults';
import type { AfterCommit } from './effects';
import { type BatchRecord, type BatchTaskNote, batchTaskTag, recordTag } from './batches';
import { createMarker, fsyncDir, nonce, unlinkQuietly, writeNewFileSync } from './durable';
import { mapChildId, newTaskIdentity, storedTasksOf } from './ids';
import { type BoardStore, STATUS_OF_DIR, queueKey } from './store';
import type { MapTasks } from './mapTasks';

/** Posts and maps: a batch of tasks reaches the board all at once or not at all (see batches.ts). */
export class Enqueuer {
  constructor(
    private readonly store: BoardStore,
    private readonly maps: MapTasks,
  ) {}

  post(spec: TaskSpec): Task {
    return this.postMany([spec])[0];
  }

  /**
   * Posts several tasks as one batch: all of them are on the board once this returns, or (when it
   * throws, or the process dies before the commit) none of them. Validates all before writing any.
   */
  postMany(specs: TaskSpec[]): Task[] {
    if (specs.length === 0) return [];
    const now = this.store.now();
    const stored = storedTasksOf(specs, now);
    const parents = [...new Set(stored.map((task) => task.parentId).filter((id): id is string => id !== undefined))];
    for (const parentId of parents) this.assertParentAcceptsChildren(parentId);
    const effects = this.store.afterCommit();
    this.commitBatch(stored, { fault: 'post', addsChildren: true }, effects);
    for (const parentId of parents) this.keepParentOpen(parentId, effects);
    return stored.map((task) => effects.attach(this.store.toTask(task, 'pending', { id: task.id, attempts: 0 })));
  }

  /** Creates a map task: the parent waits in `waiting/` until every child has ended. All or nothing. */
  map(parentSpec: TaskSpec, childSpecs: TaskSpec[]): { parent: Task; children: Task[] } {
    if (childSpecs.length === 0) throw new BoardInputError('A map task needs at least one child.');
    if (parentSpec.parentId !== undefined) throw new BoardInputError('A map task cannot itself be the child of another map task.');
    const now = this.store.now();
    const { id: parentId, createdAt } = newTaskIdentity(now);
    const parent = buildStoredTask({ ...parentSpec, type: parentSpec.type ?? 'map' }, parentId, createdAt, childSpecs.length);
    const children = childSpecs.map((spec, index) => buildStoredTask({ ...spec, parentId }, mapChildId(parentId, index), createdAt));
    const effects = this.store.afterCommit();
    this.commitBatch([parent, ...children], { fault: 'map', addsChildren: false }, effects);
    return {
      parent: effects.attach(this.store.toTask(parent, 'waiting', { id: parentId, attempts: 0 })),
      children: children.map((child) => this.store.toTask(child, 'pending', { id: child.id, attempts: 0 })),
    };
  }

  private assertParentAcceptsChildren(parentId: string): void {
    const parent = this.store.locate(parentId);
    if (!parent) throw new BoardInputError(`Parent task ${parentId} does not exist.`);
    if (parent.dir !== 'waiting' || fs.existsSync(this.store.cancellingPath(parentId))) {
      const status = parent.dir === 'waiting' ? 'being cancelled' : STATUS_OF_DIR[parent.dir];
      throw new BoardInputError(`Task ${parentId} is ${status}; children can only be added to a map task that is still waiting.`);
    }
  }

  /**
   * Writes a batch to tmp/, then commits it with its record (see batches.ts), then rolls it
   * forward. Until the record is in place every failure undoes what was written and throws.
   */
  private commitBatch(tasks: StoredTask[], options: { fault: 'post' | 'map'; addsChildren: boolean }, effects: AfterCommit): void {
    const batchId = nonce(6);
    const written: { task: StoredTask; tmp: string }[] = [];
    const markers: string[] = [];
    try {
      for (const task of tasks) {
        const tmp = this.store.tmpPath(batchTaskTag(batchId, task.id));
        writeNewFileSync(tmp, JSON.stringify(task), this.store.durable);
        written.push({ task, tmp });
      }
      faultPoint(`${options.fault}:after-tmp-write`);
      if (options.addsChildren) {
        // A child added to a map counts toward its total from this marker on, so the parent cannot
        // end while the child is on its way; look again now that the marker is there.
        for (const task of tasks.filter((candidate) => candidate.parentId)) {
          const marker = this.store.markerPath(task.parentId!, `+${task.id}`);
          createMarker(marker);
          markers.push(marker);
        }
        for (const parentId of new Set(tasks.map((task) => task.parentId).filter((id): id is string => id !== undefined))) {
          this.assertParentAcceptsChildren(parentId);
        }
      }
      this.writeBatchRecord(batchId, tasks);
    } catch (error) {
      for (const file of [...written.map((entry) => entry.tmp), ...markers]) unlinkQuietly(file);
      throw error;
    }
    for (const entry of written) this.store.specCache.set(entry.task.id, entry.task);
    faultPoint(`${options.fault}:after-commit`);
    this.rollForward(batchId, written, effects, options.fault);
  }

  /** The commit point of a batch: its record appears in batches/ (durably, when the board is durable). */
  private writeBatchRecord(batchId: string, tasks: StoredTask[]): void {
    const record: BatchRecord = {
      v: 1,
      batchId,
      pid: process.pid,
      ...(threadId !== 0 ? { thread: threadId } : {}),
      eventOffset: this.store.eventLogSize(),
      tasks: tasks.map(noteOf),
    };
    const tmp = this.store.tmpPath(recordTag(batchId));
    const target = path.join(this.store.dirPath('batches'), `${batchId}.json`);
    writeNewFileSync(tmp, JSON.stringify(record), this.store.durable);
    try {
      fs.renameSync(tmp, target);
    } catch (error) {
      unlinkQuietly(tmp);
      throw error;
    }
    try {
      if (this.store.durable) fsyncDir(this.store.dirPath('batches'));
    } catch (error) {
      unlinkQuietly(target); // not durable, so not committed: undo it and report
      throw error;
    }
  }

  /**
   * Moves a committed batch's tasks from tmp/ into their folders (a map parent first, so a child
   * never ends before its parent is there), logs them, and drops the record. Never throws: what
   * fails here is finished by repairBatches().
   */
  private rollForward(batchId: string, entries: { task: StoredTask; tmp: string }[], effects: AfterCommit, fault: 'post' | 'map'): void {
    const ordered = [...entries].sort((a, b) => Number(b.task.childCount !== undefined) - Number(a.task.childCount !== undefined));
    const subject = ordered.length === 1 ? `Task ${ordered[0].task.id} was posted` : `${ordered.length} tasks were posted`;
    let placedChildren = 0;
    for (const { task, tmp } of ordered) {
      effects.attempt(`${subject}, but ${task.id} could not be moved from tmp/ into its queue (it will be repaired)`, () => this.placeNew(tmp, task));
      if (task.childCount !== undefined) faultPoint('map:after-parent');
      else if (placedChildren++ === 0) faultPoint(fault === 'map' ? 'map:after-first-child' : 'post:after-first-rename');
    }
    this.store.syncDirs([...new Set(ordered.map(({ task }) => this.queueDirOf(task)))], effects, subject);
    this.store.pendingChanged();
    faultPoint(`${fault}:after-rename`);
    const logged = this.store.logEvents(ordered.map(({ task }) => postedEvent(noteOf(task), this.store.now())), effects, subject);
    faultPoint(`${fault}:after-events`);
    // With events missing, the record stays: repair writes them once the log can be written.
    if (logged) unlinkQuietly(path.join(this.store.dirPath('batches'), `${batchId}.json`));
  }

  /** The folder a new task starts in: waiting/ (a map parent), delayed/ (not yet due) or pending/. */
  private queueDirOf(task: StoredTask): 'waiting' | 'delayed' | 'pending' {
    if (task.childCount !== undefined) return 'waiting';
    return task.notBefore !== undefined && task.notBefore > this.store.now() ? 'delayed' : 'pending';
  }

  /** Renames a new task from tmp/ into the folder it starts in. */
  placeNew(tmp: string, task: StoredTask): void {
    const dir = this.queueDirOf(task);
    const key = queueKey(task, 0);
    const name = dir === 'waiting' ? restingName(task.id, 0) : dir === 'delayed' ? delayedName(key, task.notBefore!) : pendingName(key);
    fs.renameSync(tmp, this.store.filePath(dir, name));
  }

  /**
   * A child added to a map whose last child ended in the same instant may find the parent ended:
   * reopen it, so it ends again (with this child counted) when this child ends.
   */
  private keepParentOpen(parentId: string, effects: AfterCommit): void {
    effects.attempt(`Map task ${parentId} ended while a child was being added to it, and could not be reopened`, () => {
      const parent = this.store.locate(parentId);
      if (parent && (parent.dir === 'done' || parent.dir === 'dead')) this.maps.reopenParent(parent, effects);
    });
  }
}

function noteOf(task: StoredTask): BatchTaskNote {
  return {
    id: task.id,
    title: task.title,
    ...(task.parentId !== undefined ? { parentId: task.parentId } : {}),
    ...(task.childCount !== undefined ? { children: task.childCount } : {}),
  };
}

export function postedEvent(task: BatchTaskNote, at: number): Omit<BoardEvent, 'pid'> {
  const detail: Record<string, unknown> = { title: task.title };
  if (task.children !== undefined) detail.children = task.children;
  if (task.parentId !== undefined) detail.parentId = task.parentId;
  return { at, type: 'posted', taskId: task.id, detail };
}
