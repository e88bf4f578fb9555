// Claiming on the file board: a claim is the rename of a pending file into running/.
import * as fs from 'fs';
import type { Claim } from './types';
import { parseName, runningName } from './names';
import type { StoredTask } from './schema';
import { faultPoint } from './faults';
import { isNotFound, nonce, readDirNames, renameIfPresent } from './durable';
import type { BoardStore } from './store';
import type { FileLeases } from './fileLeases';
import { servesTask, type Serves } from './routing';

/**
 * Claims for one engine: walks a cached listing of pending/ in claim order (the names sort by
 * priority, then age) and renames the first claimable task into running/. The listing is shared
 * by the claims of this process and refreshed when stale or when this process changed pending/.
 */
export class Claimer {
  private pendingCache: string[] = [];
  private pendingCacheAt = -Infinity;
  private pendingCacheVersion = -1;
  /** Conflicts already logged, so one wait is one event. */
  private readonly loggedConflicts = new Set<string>();
  /**
   * Pending file name → running file name of the task whose file-scope lease blocked it. While that
   * running file exists the task is skipped without a rename, so a blocked task costs no renames
   * (and wakes no watcher) until its blocker ends: the blocker's own end changes running/ and wakes
   * the claimers.
   */
  private readonly blockedBy = new Map<string, string>();

  constructor(
    private readonly store: BoardStore,
    private readonly leases: FileLeases,
    private readonly pendingCacheMs: number,
  ) {}

  /** Claims the next task: highest priority first, then oldest. Undefined when nothing is claimable. */
  claimNext(agent: string, leaseMs: number, serves?: Serves): Claim | undefined {
    const blocked = new Set<string>();
    // Whether each remembered blocker still runs, looked up once per claim: the children of a map
    // that all touch one file share one blocker, and each would otherwise cost a stat.
    const blockerRunning = new Map<string, boolean>();
    // The cached listing may be stale: other processes claim from it too. When a stale listing
    // yields nothing, list pending/ once more before giving up.
    for (const forceRefresh of [false, true]) {
      const fresh = this.refreshPendingIfStale(forceRefresh);
      const claim = this.claimFromCache(agent, leaseMs, blocked, blockerRunning, serves);
      if (claim) return claim;
      if (fresh) return undefined;
    }
    return undefined;
  }

  /**
   * Walks the cached listing in claim order. A miss (another process renamed the file first)
   * costs one failed rename and drops the name, so under contention a claim skips what others
   * took since the last listing.
   */
  private claimFromCache(agent: string, leaseMs: number, blocked: Set<string>, blockerRunning: Map<string, boolean>, serves: Serves | undefined): Claim | undefined {
    const cache = this.pendingCache;
    let index = 0;
    while (index < cache.length) {
      const name = cache[index];
      const skip = blocked.has(name) || this.stillBlocked(name, blockerRunning) || !this.serves(name, serves);
      const outcome = skip ? 'blocked' : this.tryClaim(name, agent, leaseMs, blocked);
      if (outcome === 'blocked') {
        index++;
        continue;
      }
      cache.splice(index, 1);
      if (outcome !== 'missed' && outcome !== 'unreadable') return outcome;
    }
    return undefined;
  }

  /**
   * Whether a claimer that serves `serves` may take the pending task: one it cannot serve is
   * skipped before any rename, so it costs no claim, no lease and no event (the body is read once
   * and cached). A body that cannot be read is left to tryClaim, which quarantines it.
   */
  private serves(name: string, serves: Serves | undefined): boolean {
    if (!serves) return true;
    const spec = this.store.readSpec('pending', name);
    return !spec || servesTask(serves, spec);
  }

  /** True while the blocker remembered for this pending file still runs (one stat, no rename). */
  private stillBlocked(name: string, blockerRunning: Map<string, boolean>): boolean {
    const blocker = this.blockedBy.get(name);
    if (blocker === undefined) return false;
    let running = blockerRunning.get(blocker);
    if (running === undefined) {
      running = fs.existsSync(this.store.filePath('running', blocker));
      blockerRunning.set(blocker, running);
    }
    if (!running) this.blockedBy.delete(name);
    return running;
  }

  private refreshPendingIfStale(force: boolean): boolean {
    const age = this.store.now() - this.pendingCacheAt;
    if (!force && this.pendingCache.length > 0 && age < this.pendingCacheMs && this.pendingCacheVersion === this.store.pendingVersion) return false;
    this.pendingCacheVersion = this.store.pendingVersion;
    this.pendingCache = readDirNames(this.store.dirPath('pending')).sort();
    this.pendingCacheAt = this.store.now();
    this.forgetBlockersOfGoneTasks();
    return true;
  }

  /** A pending name that left pending/ will not come back under the same name (attempts, nonce). */
  private forgetBlockersOfGoneTasks(): void {
    if (this.blockedBy.size === 0) return;
    const listed = new Set(this.pendingCache);
    for (const name of this.blockedBy.keys()) if (!listed.has(name)) this.blockedBy.delete(name);
  }

  private tryClaim(name: string, agent: string, leaseMs: number, blocked: Set<string>): Claim | 'missed' | 'blocked' | 'unreadable' {
    const parsed = parseName('pending', name);
    if (!parsed) {
      this.store.quarantine('pending', name, 'the file name is not a task name of this board');
      return 'unreadable';
    }
    const attempt = parsed.attempts + 1;
    const token = runningName(parsed.id, attempt, agent, nonce());
    const pendingPath = this.store.filePath('pending', name);
    const runningPath = this.store.filePath('running', token);
    if (!renameIfPresent(pendingPath, runningPath)) return 'missed';
    faultPoint('claim:after-rename');
    const leaseExpiresAt = this.store.now() + leaseMs;
    let spec: StoredTask | undefined;
    try {
      if (!this.touchLease(runningPath, leaseExpiresAt)) return 'missed'; // cancelled in between
      faultPoint('claim:after-lease');
      spec = this.store.readSpec('running', token);
      if (!spec) return 'unreadable';
      const blocker = this.leases.acquire(spec, token);
      if (blocker) {
        this.releaseClaimAfterConflict(spec, token, name, blocker.id);
        blocked.add(name);
        this.blockedBy.set(name, blocker.token);
        return 'blocked';
      }
    } catch (error) {
      // A claim that throws must leave nothing changed: hand the task back exactly as it was.
      renameIfPresentQuietly(runningPath, pendingPath);
      throw error;
    }
    this.loggedConflicts.delete(spec.id);
    const effects = this.store.afterCommit();
    this.store.logEvents([{ at: this.store.now(), type: 'claimed', taskId: spec.id, agent, attempt }], effects, `Task ${spec.id} was claimed`);
    const task = this.store.toTask(spec, 'running', { id: spec.id, attempts: attempt, agent }, undefined, leaseExpiresAt);
    return effects.attach({ task, token, agent, leaseExpiresAt });
  }

  /** The lease expiry is the running file's mtime, so a heartbeat is one utimes call. */
  touchLease(runningPath: string, expiresAt: number): boolean {
    try {
      const seconds = expiresAt / 1000;
      fs.utimesSync(runningPath, seconds, seconds);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  private releaseClaimAfterConflict(spec: StoredTask, token: string, pendingFile: string, blocker: string): void {
    fs.renameSync(this.store.filePath('running', token), this.store.filePath('pending', pendingFile));
    if (!this.loggedConflicts.has(spec.id)) {
      this.loggedConflicts.add(spec.id);
      const effects = this.store.maintenanceEffects();
      this.store.logEvents([{ at: this.store.now(), type: 'conflict', taskId: spec.id, detail: { waitingFor: blocker, files: spec.files } }], effects, `Task ${spec.id} waits for ${blocker}`);
    }
  }
}

function renameIfPresentQuietly(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch {
    // The original error is reported; a claim left in running/ expires and is reclaimed.
  }
}
