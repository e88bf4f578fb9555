// Maintenance of the file board: promotion, reclaim of expired leases, repair.
import * as fs from 'fs';
import * as path from 'path';
import type { BoardEvent, TaskError } from './types';
import { isValidId, parseName, pendingName, restingName } from './names';
import type { StoredTask } from './schema';
import { faultPoint } from './faults';
import type { AfterCommit } from './effects';
import { batchIdOfRecord, parseTmpName, readBatchRecord } from './batches';
import { createMarker, isOtherLiveWriter, readDirNames, renameIfPresent, sleepSync, unlinkIfPresent } from './durable';
import { type BoardStore, queueKey } from './store';
import type { MapTasks } from './mapTasks';
import type { Canceller } from './cancel';
import { type Enqueuer, postedEvent } from './enqueue';

/** A commit record this old is finished by repair even if its writer still runs (it is stuck). */
const STALE_RECORD_MS = 60_000;

/**
 * Maintenance, run by claimers (throttled) so the board keeps moving without a daemon: delayed
 * tasks promoted when due, expired leases reclaimed, and repair of what crashes left undone
 * (interrupted posts, map cancels, map tasks whose children all ended).
 */
export class Maintenance {
  private nextDelayedCheck = 0;
  private lastSweepAt = -Infinity;
  private lastRepairAt = -Infinity;
  /** Expired leases seen once: reclaimed only when a later sweep sees the same mtime again. */
  private readonly expiredSeen = new Map<string, number>();

  constructor(
    private readonly store: BoardStore,
    private readonly maps: MapTasks,
    private readonly canceller: Canceller,
    private readonly enqueuer: Enqueuer,
    private readonly sweepIntervalMs: number,
    private readonly repairIntervalMs: number,
  ) {}

  /** A retry was scheduled for dueAt: promote no later than then. */
  retryScheduled(dueAt: number): void {
    this.nextDelayedCheck = Math.min(this.nextDelayedCheck, dueAt);
  }

  /** Promotion and reclaim, throttled, so that claimers keep the board moving without a daemon. */
  maintain(): void {
    const now = this.store.now();
    if (now >= this.nextDelayedCheck) this.promoteDelayed();
    if (now - this.lastSweepAt >= this.sweepIntervalMs) this.sweep();
  }

  /** Moves delayed tasks whose time has come into pending/. Returns how many this process moved. Never throws. */
  promoteDelayed(): number {
    const now = this.store.now();
    const effects = this.store.maintenanceEffects();
    let promoted = 0;
    let nextDue = now + 1000; // other processes may add delayed tasks: look again within a second
    let names: string[] = [];
    effects.attempt('Delayed tasks could not be promoted: delayed/ could not be listed', () => (names = readDirNames(this.store.dirPath('delayed')).sort()));
    for (const name of names) {
      const parsed = parseName('delayed', name);
      if (!parsed) {
        this.store.quarantine('delayed', name, 'the file name is not a task name of this board');
        continue;
      }
      if (parsed.dueAt! > now) {
        nextDue = Math.min(nextDue, parsed.dueAt!);
        break;
      }
      const target = name.slice(name.indexOf('~') + 1);
      let moved = false;
      effects.attempt(`Task ${parsed.id} is due but could not be moved to pending/`, () => (moved = renameIfPresent(this.store.filePath('delayed', name), this.store.filePath('pending', target))));
      if (!moved) continue;
      promoted++;
      this.store.pendingChanged();
      this.store.logEvents([{ at: now, type: 'promoted', taskId: parsed.id }], effects, `Task ${parsed.id} was promoted`);
    }
    this.nextDelayedCheck = nextDue;
    return promoted;
  }

  /**
   * One pass over running/: a lease seen expired with the same mtime by an earlier pass is
   * reclaimed (the two-observation rule), so a clock jump or a paused process never causes a mass
   * reclaim from a single look. Every repairIntervalMs it also runs the repair pass (batches,
   * cancels, map parents). Returns the number of tasks this process reclaimed. Never throws.
   */
  sweep(): number {
    const now = this.store.now();
    this.lastSweepAt = now;
    const effects = this.store.maintenanceEffects();
    let reclaimed = 0;
    let names: string[] = [];
    effects.attempt('Expired leases could not be reclaimed: running/ could not be listed', () => (names = readDirNames(this.store.dirPath('running'))));
    const seenNow = new Set<string>();
    for (const name of names) {
      const expiry = this.leaseExpiry(name);
      if (expiry === undefined || expiry > now) continue;
      seenNow.add(name);
      if (this.expiredSeen.get(name) === expiry) {
        if (this.reclaim(name, effects)) reclaimed++;
      } else {
        this.expiredSeen.set(name, expiry);
      }
    }
    for (const name of this.expiredSeen.keys()) if (!seenNow.has(name)) this.expiredSeen.delete(name);
    if (now - this.lastRepairAt >= this.repairIntervalMs) {
      this.lastRepairAt = now;
      this.repairPass(effects);
    }
    return reclaimed;
  }

  /** For one-shot callers (the CLI): sweeps, and when it saw new expiries, looks again after confirmMs. */
  reclaimExpired(confirmMs = 100): number {
    let reclaimed = this.sweep();
    if (this.expiredSeen.size > 0) {
      sleepSync(confirmMs);
      reclaimed += this.sweep();
    }
    return reclaimed;
  }

  leaseExpiry(runningFile: string): number | undefined {
    try {
      const stat = fs.lstatSync(this.store.filePath('running', runningFile), { throwIfNoEntry: false });
      return stat ? Math.round(stat.mtimeMs) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Returns an expired claim to pending/ (or dead/ when out of attempts). Never throws. */
  private reclaim(runningFile: string, effects: AfterCommit): boolean {
    const parsed = parseName('running', runningFile);
    if (!parsed) return this.store.quarantine('running', runningFile, 'the file name is not a task name of this board'), false;
    const spec = this.store.readSpec('running', runningFile);
    if (!spec) return false;
    const now = this.store.now();
    const error: TaskError = {
      attempt: parsed.attempts,
      at: now,
      message: `The lease of agent ${parsed.agent} expired (the agent crashed, hung or lost contact).`,
      permanent: false,
      agent: parsed.agent,
      kind: 'lease-expired',
    };
    // The history entry is a side file; a task stuck in running/ because it could not be written
    // would be worse than a gap in the history, so the reclaim goes on without it.
    let errorFile: string | undefined;
    effects.attempt(`The error history of task ${parsed.id} misses its expired lease`, () => (errorFile = this.store.writeError(parsed.id, error)));
    faultPoint('reclaim:after-error-write');
    const toDead = parsed.attempts >= spec.maxAttempts;
    const target = toDead
      ? this.store.filePath('dead', restingName(parsed.id, parsed.attempts))
      : this.store.filePath('pending', pendingName(queueKey(spec, parsed.attempts)));
    let moved = false;
    effects.attempt(`The expired lease on task ${parsed.id} could not be reclaimed`, () => (moved = this.store.commitRename(this.store.filePath('running', runningFile), target, errorFile)));
    if (!moved) return false;
    this.expiredSeen.delete(runningFile);
    this.store.pendingChanged();
    const subject = `The expired lease on task ${parsed.id} was reclaimed`;
    const events: Omit<BoardEvent, 'pid'>[] = [{ at: now, type: 'reclaimed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { toDead } }];
    if (toDead) events.push({ at: now, type: 'dead', taskId: parsed.id, attempt: parsed.attempts, detail: { message: error.message } });
    this.store.logEvents(events, effects, subject);
    if (toDead && spec.parentId) this.maps.childEnded(spec.parentId, spec.id, 'dead', effects);
    return true;
  }

  /**
   * Finishes what crashes and full disks left undone: batches (posts, maps) rolled forward or
   * back with their events, map cancels carried through, and map tasks whose children all ended
   * completed (re-creating markers a crash skipped). Returns how many map tasks it completed.
   */
  repairParents(): number {
    return this.repairPass(this.store.maintenanceEffects());
  }

  private repairPass(effects: AfterCommit): number {
    this.repairBatches(effects);
    this.repairCancels(effects);
    let completed = 0;
    effects.attempt('Map tasks could not be checked for repair', () => (completed = this.repairWaitingParents(effects)));
    return completed;
  }

  /** Rolls committed batches of dead writers forward, deletes uncommitted ones. Never throws. */
  repairBatches(effects: AfterCommit): void {
    const pending = new Map<string, { task: StoredTask; tmp: string }[]>();
    let tmpNames: string[] = [];
    effects.attempt('Unfinished posts could not be repaired: tmp/ could not be listed', () => (tmpNames = readDirNames(this.store.dirPath('tmp'))));
    const liveBatches = new Set<string>();
    for (const name of tmpNames) {
      const file = path.join(this.store.dirPath('tmp'), name);
      const info = parseTmpName(name);
      if (info && isOtherLiveWriter(info.pid, info.thread)) {
        if (info.batchId) liveBatches.add(info.batchId);
        continue;
      }
      effects.attempt(`The leftover tmp/${name} could not be repaired`, () => {
        if (info?.kind === 'batch' && fs.existsSync(path.join(this.store.dirPath('batches'), `${info.batchId}.json`))) {
          const task = this.store.readSpecFile(file);
          if (!task) return unlinkIfPresent(file);
          const list = pending.get(info.batchId!) ?? [];
          list.push({ task, tmp: file });
          pending.set(info.batchId!, list);
        } else if (info?.kind === 'batch') {
          this.dropUncommitted(file);
        } else if (info?.kind === 'legacy-map' && this.store.locate(info.parentId!)) {
          const task = this.store.readSpecFile(file);
          if (task) this.enqueuer.placeNew(file, task);
          else unlinkIfPresent(file);
        } else {
          fs.rmSync(file, { force: true, recursive: true });
        }
      });
    }
    for (const [, entries] of pending) {
      entries.sort((a, b) => Number(b.task.childCount !== undefined) - Number(a.task.childCount !== undefined));
      for (const { task, tmp } of entries) effects.attempt(`Task ${task.id} of an interrupted post could not be moved into its queue`, () => this.enqueuer.placeNew(tmp, task));
      this.store.pendingChanged();
    }
    let records: string[] = [];
    effects.attempt('Unfinished posts could not be repaired: batches/ could not be listed', () => (records = readDirNames(this.store.dirPath('batches'))));
    for (const name of records) {
      const batchId = batchIdOfRecord(name);
      if (!batchId || liveBatches.has(batchId)) continue;
      effects.attempt(`The post record batches/${name} could not be finished`, () => this.finishRecord(path.join(this.store.dirPath('batches'), name), effects));
    }
  }

  /** A tmp file of a batch that never committed: the task was never posted. */
  private dropUncommitted(file: string): void {
    const task = this.store.readSpecFile(file);
    if (task?.parentId && !task.id.startsWith(`${task.parentId}.`)) unlinkIfPresent(this.store.markerPath(task.parentId, `+${task.id}`));
    unlinkIfPresent(file);
  }

  /** Writes the `posted` events a committed batch is missing, then drops its record. */
  private finishRecord(file: string, effects: AfterCommit): void {
    const record = readBatchRecord(file);
    if (!record) {
      unlinkIfPresent(file); // unreadable: written by a crashed writer that never committed it
      return;
    }
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    const writerAlive = isOtherLiveWriter(record.pid, record.thread);
    if (!stat || (writerAlive && Date.now() - stat.mtimeMs < STALE_RECORD_MS)) return;
    const logged = new Set<string>();
    // A log that is shorter than at the commit was replaced: look through all of it.
    let offset = this.store.eventLogSize() < record.eventOffset ? 0 : record.eventOffset;
    for (;;) {
      const { events, nextOffset } = this.store.events.read(offset);
      for (const event of events) if (event.type === 'posted' && event.taskId) logged.add(event.taskId);
      if (nextOffset === offset) break;
      offset = nextOffset;
    }
    const missing = record.tasks.filter((task) => !logged.has(task.id));
    const subject = `The interrupted post of ${missing.length === 1 ? `task ${missing[0].id}` : `${missing.length} tasks`} was finished`;
    if (missing.length > 0 && !this.store.logEvents(missing.map((task) => postedEvent(task, this.store.now())), effects, subject)) return;
    unlinkIfPresent(file);
  }

  /** Carries interrupted map cancels through. Never throws. */
  private repairCancels(effects: AfterCommit): void {
    let names: string[] = [];
    effects.attempt('Map cancels could not be repaired: cancelling/ could not be listed', () => (names = readDirNames(this.store.dirPath('cancelling'))));
    for (const parentId of names) {
      if (!isValidId(parentId)) continue;
      effects.attempt(`The cancel of map task ${parentId} could not be finished`, () => {
        const parent = this.store.locate(parentId);
        if (parent?.dir === 'waiting') {
          if (!renameIfPresent(this.store.filePath('waiting', parent.name), this.store.filePath('cancelled', restingName(parentId, 0)))) return;
          this.store.logEvents([{ at: this.store.now(), type: 'cancelled', taskId: parentId, detail: { from: 'waiting' } }], effects, `Map task ${parentId} was cancelled`);
        }
        if (parent?.dir === 'waiting' || parent?.dir === 'cancelled') {
          if (this.canceller.cancelLiveChildren(parentId, effects) > 0) return;
        }
        unlinkIfPresent(this.store.cancellingPath(parentId));
      });
    }
  }

  /** Re-creates end markers a crash skipped and completes waiting parents whose children all ended. */
  private repairWaitingParents(effects: AfterCommit): number {
    const parents = readDirNames(this.store.dirPath('waiting'))
      .map((name) => parseName('waiting', name)?.id)
      .filter((id): id is string => id !== undefined);
    if (parents.length === 0) return 0;
    const parentOfChild = new Map<string, string>();
    for (const parentId of parents) {
      const progress = this.maps.progress(parentId);
      if (progress.done + progress.dead + progress.cancelled >= progress.total) continue;
      for (const childId of this.maps.childIdsOf(parentId)) parentOfChild.set(childId, parentId);
    }
    if (parentOfChild.size > 0) {
      for (const dir of ['done', 'dead', 'cancelled'] as const) {
        for (const name of readDirNames(this.store.dirPath(dir))) {
          const childId = parseName(dir, name)?.id;
          const parentId = childId && parentOfChild.get(childId);
          if (parentId) createMarker(this.store.markerPath(parentId, `${childId}.${dir}`));
        }
      }
    }
    let completed = 0;
    for (const parentId of parents) {
      effects.attempt(`Map task ${parentId} could not be completed`, () => {
        if (this.maps.completeParentIfEnded(parentId, effects)) completed++;
      });
    }
    return completed;
  }
}
