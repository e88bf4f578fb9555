// Cancelling tasks on the file board.
import { BoardInputError, type Task } from './types';
import { parseName, restingName } from './names';
import type { StoredTask } from './schema';
import { faultPoint } from './faults';
import type { AfterCommit } from './effects';
import { createMarker, readDirNames, renameIfPresent, unlinkIfPresent, unlinkQuietly } from './durable';
import { type BoardStore, type Located, STATUS_OF_DIR } from './store';
import type { FileLeases } from './fileLeases';
import type { MapTasks } from './mapTasks';

/** Cancel: of one task (a running holder loses its lease at its next heartbeat), or of a map with its children. */
export class Canceller {
  constructor(
    private readonly store: BoardStore,
    private readonly leases: FileLeases,
    private readonly maps: MapTasks,
  ) {}

  /**
   * Cancels a task that has not ended. A running holder loses its lease at its next heartbeat. A
   * map task is cancelled with its unfinished children.
   */
  cancel(id: string): Task {
    this.store.assertId(id);
    for (let attempt = 0; attempt < 100; attempt++) {
      const where = this.store.requireLocated(id);
      if (where.dir === 'done' || where.dir === 'dead' || where.dir === 'cancelled') {
        throw new BoardInputError(`Task ${id} has already ended (${STATUS_OF_DIR[where.dir]}); there is nothing to cancel.`);
      }
      const spec = this.store.specAt(where);
      if (!spec) continue; // it moved while we looked
      const cancelled = where.dir === 'waiting' ? this.cancelMap(where, spec) : this.cancelOne(where, spec, this.store.afterCommit());
      if (cancelled) return cancelled;
    }
    throw new BoardInputError(`Task ${id} keeps changing state; try again.`);
  }

  /** One task's cancel: its rename, then its side effects. Undefined when it moved first. */
  private cancelOne(where: Located, spec: StoredTask, effects: AfterCommit): Task | undefined {
    const id = where.parsed.id;
    if (!renameIfPresent(this.store.filePath(where.dir, where.name), this.store.filePath('cancelled', restingName(id, where.parsed.attempts)))) return undefined;
    faultPoint('cancel:after-rename');
    const subject = `Task ${id} was cancelled`;
    if (where.dir === 'running') this.leases.releaseAfterCommit(spec.files, where.name, effects, subject);
    this.store.logEvents([{ at: this.store.now(), type: 'cancelled', taskId: id, agent: where.parsed.agent, detail: { from: STATUS_OF_DIR[where.dir] } }], effects, subject);
    if (spec.parentId) this.maps.childEnded(spec.parentId, id, 'cancelled', effects);
    return effects.attach(this.store.toTask(spec, 'cancelled', where.parsed));
  }

  /**
   * A map task's cancel: a marker in cancelling/ (so an interrupted cancel is carried through by
   * repair), the parent's rename (the commit), then its unfinished children one by one.
   */
  private cancelMap(where: Located, spec: StoredTask): Task | undefined {
    const parentId = where.parsed.id;
    const marker = this.store.cancellingPath(parentId);
    const created = createMarker(marker);
    const moved = (() => {
      try {
        return renameIfPresent(this.store.filePath('waiting', where.name), this.store.filePath('cancelled', restingName(parentId, 0)));
      } catch (error) {
        if (created) unlinkQuietly(marker);
        throw error;
      }
    })();
    if (!moved) {
      if (created) unlinkQuietly(marker); // it ended (or someone else cancelled it) meanwhile
      return undefined;
    }
    faultPoint('cancel:after-rename');
    const effects = this.store.afterCommit();
    const subject = `Map task ${parentId} was cancelled`;
    this.store.logEvents([{ at: this.store.now(), type: 'cancelled', taskId: parentId, detail: { from: 'waiting' } }], effects, subject);
    let remaining = 1;
    effects.attempt(`${subject}, but not all of its children could be cancelled yet (repair will finish)`, () => (remaining = this.cancelLiveChildren(parentId, effects)));
    if (remaining === 0) effects.attempt(`${subject}, but its cancel marker could not be removed`, () => unlinkIfPresent(marker));
    return effects.attach(this.store.toTask(spec, 'cancelled', { id: parentId, attempts: 0 }));
  }

  /** Cancels the children of a map task that have not ended; returns how many could not be (0 = all). */
  cancelLiveChildren(parentId: string, effects: AfterCommit): number {
    const children = new Set(this.maps.childIdsOf(parentId));
    let live = 0;
    for (let pass = 0; pass < 3; pass++) {
      live = 0;
      for (const dir of ['delayed', 'pending', 'running'] as const) {
        for (const name of readDirNames(this.store.dirPath(dir))) {
          const parsed = parseName(dir, name);
          if (!parsed || !children.has(parsed.id)) continue;
          const where: Located = { dir, name, parsed };
          const spec = this.store.specAt(where);
          if (!spec || !this.cancelOne(where, spec, effects)) live++;
          if (where.dir === 'pending' && pass === 0) faultPoint('cancel:after-first-child');
        }
      }
      if (live === 0) return 0;
    }
    return live;
  }
}
