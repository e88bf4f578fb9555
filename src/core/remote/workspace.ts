// The runner's seam between the pool and the git transport: a task claimed from a shared board that
// carries a `source` starts from exactly the poster's snapshot commit, not from this machine's files.
// The snapshot is imported (bundle artifact, fetching the remote when its base is missing) into the
// runner's clone or a repository cache; a worktree slot of that repository then starts from the
// commit (the worktree isolation's `startFrom` hook), and the result goes back as the usual patch
// plus a thin result bundle artifact. Tasks without a source run in the local isolation as today.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Board } from '../board/interface';
import type { Task, TaskSource } from '../board/types';
import type { CollectedChanges, PreparedWorkspace, TaskIsolation } from '../pool/isolation';
import type { ActiveSandbox } from '../sandbox/launcher';
import { DEFAULT_ARTIFACT_CAP_BYTES } from '../board/interface';
import { diffCommits } from '../worktree/diff';
import { gitText, runGit } from '../worktree/git';
import { isValidId } from '../board/names';
import { worktreesCacheRoot } from '../worktree/location';
import { listSlotStates, type SlotState } from '../worktree/slots';
import writeFileAtomic from 'write-file-atomic';
import { CannotServeTaskError, RemoteGitError, megabytes, untrusted } from './errors';

export { CannotServeTaskError } from './errors';
export { HandBackBackoff, handBack } from './handBack';
import { withLock } from './lock';
import { descriptorOf } from './post';
import { importResult, resultFromPatch } from './result';
import { importSnapshot, type ImportedSnapshot } from './runner';
import { IMPORTED_REF_PREFIX, PARTIAL_REF_PREFIX, readResultDescriptor, REMOTE_FORMAT, resultRef, SNAPSHOT_REF_PREFIX, type ResultDescriptor } from './descriptor';
import { isProcessAlive } from '../process/liveness';
import { runGitCapped, sha256 } from './bundle';
import { followUpOf, PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT, RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT } from './artifacts';
import { expireSharedTransport } from './cleanup';

export { RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT, PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT, followUpOf } from './artifacts';

/** What makes a worktree isolation over a repository (the pool's own options: setup command, slots, includes). */
export type MakeIsolation = (options: { workspaceRoot: string; worktreesDir: string; startFrom: (task: Task) => string | undefined }) => TaskIsolation;

/** The board calls a runner makes. */
export type RunnerBoard = Pick<Board, 'getArtifact' | 'putArtifact' | 'get' | 'list' | 'listArtifacts' | 'deleteArtifact'>;

/** How often a runner applies the board's retention of transport artifacts (and once at start). */
export const TRANSPORT_SWEEP_INTERVAL_MS = 3_600_000;

export interface RemoteWorkspaceOptions {
  board: RunnerBoard;
  /** Runs tasks without a source (posted to this board without a snapshot); absent: such tasks cannot be served. */
  local?: TaskIsolation;
  makeIsolation: MakeIsolation;
  /** The runner's clone: used for tasks of its repository (one of its remotes). */
  clone?: string;
  /** Repository cache folder (`--repos DIR`): one bare mirror per repository. */
  reposDir?: string;
  /** Where the runner keeps its anchors and slot folders; default `reposDir`, else the user's cache. */
  runnerDir?: string;
  /** Tasks may name repositories by local path (tests, trusted setups only). */
  allowLocalUrls?: boolean;
  /** This runner's labels (`--labels gpu,linux`): a task that requires others is handed back. */
  labels?: readonly string[];
  maxBundleBytes?: number;
  /** How long the bundles of tasks that ended stay on the board (see expireSharedTransport); default 7 days. */
  transportRetentionMs?: number;
  log?: (line: string) => void;
}

/** Where a site's repository is: recorded beside the runner's slots (`sites/<key>.json`). */
interface SiteRecord {
  gitDir: string;
  prefix: string;
  lockFile: string;
  /** The repository identity, for messages. */
  repository: string;
}

/** A site to make: its record and a commit the repository has (for the anchor). */
type SiteSource = SiteRecord & { commit: string };

/** One repository (and workspace folder in it) this runner serves, with its own worktree slots. */
interface Site {
  isolation: TaskIsolation;
  gitDir: string;
  prefix: string;
  /** This process's anchor (a linked worktree without files), removed at release. */
  anchor: string;
}

/**
 * Problems of this runner, not of the task: no clone or cache for the repository, a local URL it may
 * not fetch, a remote it cannot reach or has no credentials for. The task is handed back (another
 * runner may serve it) instead of spending its attempts here. A base missing from the remote, a
 * bundle over the cap or tampered with are the task's problems: they fail it.
 */
const CANNOT_SERVE: ReadonlySet<string> = new Set(['no-repository', 'config', 'fetch-failed']);

export class RemoteWorkspace implements TaskIsolation {
  readonly kind = 'remote';
  private readonly sites = new Map<string, Promise<Site>>();
  private readonly ready: Site[] = [];
  /** Task id → the commit its slot starts from, while its prepare runs. */
  private readonly starts = new Map<string, string>();
  /** Pool slot → the site its current attempt runs in. */
  private readonly attempts = new Map<string, Site>();
  /** Snapshots this process imported (refs/swarm-in/<id>), per git directory: dropped at release. */
  private readonly imported = new Map<string, Set<string>>();
  private sandbox?: { sandbox: ActiveSandbox | undefined; env: Record<string, string> };
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(private readonly options: RemoteWorkspaceOptions) {}

  async prepare(task: Task, slot: string, artifactsDir: string, signal?: AbortSignal): Promise<PreparedWorkspace> {
    this.assertLabels(task);
    if (!task.source) return this.localFor(task).prepare(task, slot, artifactsDir, signal);
    const site = await this.siteFor(task, task.source);
    signal?.throwIfAborted();
    await this.receivePartialWork(task, site, task.source.snapshot);
    await this.receiveFollowUpStart(task, site, task.source.snapshot);
    this.starts.set(task.id, task.source.snapshot);
    try {
      const prepared = await site.isolation.prepare(task, slot, artifactsDir, signal);
      this.attempts.set(slot, site);
      return prepared;
    } finally {
      this.starts.delete(task.id);
    }
  }

  async collect(task: Task, slot: string, prepared: PreparedWorkspace, artifactsDir: string): Promise<CollectedChanges> {
    const site = this.attempts.get(slot);
    if (!site) return this.localFor(task).collect(task, slot, prepared, artifactsDir);
    this.attempts.delete(slot);
    const changes = await site.isolation.collect(task, slot, prepared, artifactsDir);
    if (changes.patchFile && changes.base) {
      const result = await resultFromPatch({ gitDir: site.gitDir, taskId: task.id, snapshot: changes.base, prefix: site.prefix, patch: fs.readFileSync(changes.patchFile), maxBytes: this.options.maxBundleBytes });
      // Both at once: nothing reads a task's result.json before the task is done (a follow-up, a
      // review), which is after collect returns; partial work is another matter (see sendPartialWork).
      await Promise.all([
        result.bundle ? this.options.board.putArtifact(task.id, RESULT_BUNDLE_ARTIFACT, result.bundle) : undefined,
        this.options.board.putArtifact(task.id, RESULT_DESCRIPTOR_ARTIFACT, JSON.stringify(result.descriptor)),
        // The result lives on the board now; this machine keeps no ref of it (nor the slot's base ref).
        this.dropResultRefs(site, task.id),
      ]);
    } else await this.dropResultRefs(site, task.id);
    return changes;
  }

  private async dropResultRefs(site: Site, taskId: string): Promise<void> {
    await deleteRefs(site.gitDir, [resultRef(taskId, 'result'), `${SNAPSHOT_REF_PREFIX}${taskId}`]);
  }

  async abandon(task: Task, slot: string, prepared: PreparedWorkspace, reason: string): Promise<void> {
    const site = this.attempts.get(slot);
    if (!site) return this.localFor(task).abandon(task, slot, prepared, reason);
    this.attempts.delete(slot);
    await site.isolation.abandon(task, slot, prepared, reason);
    // Partial work kept on refs/swarm/<id> travels too, so a retry on any machine resumes from it.
    await this.sendPartialWork(task.id, site, prepared.snapshot).catch((error: unknown) => this.log(`task ${task.id}: partial work not sent: ${(error as Error).message}`));
  }

  async prune(): Promise<void> {
    await Promise.all(this.isolations().map((isolation) => isolation.prune?.()));
    await this.keepWorkOfDeadRunners();
    this.startTransportRetention();
  }

  /**
   * Applies the board's retention of transport artifacts now and then every hour while the runner
   * runs (in the background: a large board takes a while to list). Every runner does it, so the
   * bundles of ended tasks go without a poster's prune; deleting is idempotent.
   */
  private startTransportRetention(): void {
    if (this.sweepTimer) return;
    void this.sweepTransport();
    this.sweepTimer = setInterval(() => void this.sweepTransport(), TRANSPORT_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** One retention sweep (a second call while one runs waits for it). */
  sweepTransport(): Promise<void> {
    this.sweeping ??= expireSharedTransport({ board: this.options.board, retentionMs: this.options.transportRetentionMs })
      .then((removed) => {
        if (removed > 0) this.log(`removed ${removed} bundle(s) of tasks that ended from the board (retention)`);
      })
      .catch((error: unknown) => this.log(`could not apply the board's retention of bundles: ${(error as Error).message}`))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /**
   * Releases the slots, then what this process added to its repositories: the imported snapshots
   * (refs/swarm-in/<id>; a later task of the same post imports again), the partial work of tasks
   * that ended (on any machine), and its anchors.
   */
  async release(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.sweeping;
    await Promise.all(this.isolations().map((isolation) => isolation.release?.()));
    for (const [gitDir, snapshots] of this.imported) await deleteRefs(gitDir, [...snapshots].map((id) => `${IMPORTED_REF_PREFIX}${id}`));
    this.imported.clear();
    const sites = [...this.ready];
    this.ready.length = 0;
    this.sites.clear();
    for (const site of sites) {
      await this.dropEndedPartialWork(site.gitDir).catch((error: unknown) => this.log(`could not check the partial work kept in ${site.gitDir}: ${(error as Error).message}`));
      await removeAnchor(site.gitDir, site.anchor).catch((error: unknown) => this.log(`could not remove the anchor ${site.anchor}: ${(error as Error).message}; the next runner removes it`));
    }
  }

  /** refs/swarm/<id> of tasks that are done, cancelled or gone: no retry will resume from them. */
  private async dropEndedPartialWork(gitDir: string): Promise<void> {
    const listed = (await gitText(['for-each-ref', '--format=%(refname)', PARTIAL_REF_PREFIX], { cwd: gitDir })).split('\n').filter(Boolean);
    const ended: string[] = [];
    for (const ref of listed) {
      const task = await this.options.board.get(ref.slice(PARTIAL_REF_PREFIX.length));
      if (!task || task.status === 'done' || task.status === 'cancelled') ended.push(ref);
    }
    await deleteRefs(gitDir, ended);
  }

  useSandbox(sandbox: ActiveSandbox | undefined, commandEnv: Record<string, string>): void {
    this.sandbox = { sandbox, env: commandEnv };
    this.options.local?.useSandbox?.(sandbox, commandEnv);
    for (const site of this.ready) site.isolation.useSandbox?.(sandbox, commandEnv);
  }

  private assertLabels(task: Task): void {
    const have = new Set(this.options.labels ?? []);
    const missing = (task.requires ?? []).filter((label) => !have.has(label));
    if (missing.length === 0) return;
    const has = have.size > 0 ? `it has ${[...have].join(', ')}` : 'it has none';
    throw new CannotServeTaskError(task.id, `Task ${task.id} requires the label${missing.length === 1 ? '' : 's'} ${missing.join(', ')}, which this runner lacks (${has}); start a runner with --labels ${(task.requires ?? []).join(',')}.`);
  }

  private localFor(task: Task): TaskIsolation {
    if (!this.options.local) throw new CannotServeTaskError(task.id, `Task ${task.id} has no snapshot to start from (it was posted without one), and this runner only runs tasks that carry one.`);
    return this.options.local;
  }

  private isolations(): TaskIsolation[] {
    const started = this.ready.map((site) => site.isolation);
    return this.options.local ? [this.options.local, ...started] : started;
  }

  /** Imports the task's snapshot, then the site (anchor and slots) of its repository. */
  private async siteFor(task: Task, source: TaskSource): Promise<Site> {
    const bundle = source.artifact ? await this.options.board.getArtifact(source.artifact.taskId, source.artifact.name) : undefined;
    let imported: ImportedSnapshot;
    try {
      imported = await importSnapshot(descriptorOf(source), bundle, { clone: this.options.clone, reposDir: this.options.reposDir, allowLocalUrls: this.options.allowLocalUrls, maxBundleBytes: this.options.maxBundleBytes, log: this.options.log });
    } catch (error) {
      if (error instanceof RemoteGitError && CANNOT_SERVE.has(error.problem)) throw new CannotServeTaskError(task.id, error.message);
      throw error;
    }
    const snapshots = this.imported.get(imported.gitDir) ?? new Set<string>();
    snapshots.add(source.snapshotId);
    this.imported.set(imported.gitDir, snapshots);
    const key = siteKey(imported.gitDir, imported.prefix);
    let site = this.sites.get(key);
    if (!site) {
      site = this.makeSite({ gitDir: imported.gitDir, prefix: imported.prefix, lockFile: imported.repository.lockFile, commit: imported.commit, repository: imported.descriptor.repository }, key);
      this.sites.set(key, site);
      site.catch(() => this.sites.delete(key));
    }
    return site;
  }

  private async makeSite(source: SiteSource, key: string): Promise<Site> {
    const runnerDir = this.runnerDir();
    // One anchor per process: a runner removes its own at release without asking another, and the
    // anchors of runners that died are removed here.
    const anchor = path.join(runnerDir, 'anchors', `${key}.p${process.pid}`);
    await withLock(source.lockFile, async () => {
      await removeDeadAnchors(source.gitDir, path.dirname(anchor), key);
      await ensureAnchor(source.gitDir, anchor, source.commit);
    });
    const workspaceRoot = source.prefix ? path.join(anchor, source.prefix) : anchor;
    fs.mkdirSync(workspaceRoot, { recursive: true });
    const isolation = this.options.makeIsolation({ workspaceRoot, worktreesDir: slotsDirOf(runnerDir, key), startFrom: (task) => this.starts.get(task.id) });
    if (this.sandbox) isolation.useSandbox?.(this.sandbox.sandbox, this.sandbox.env);
    this.log(`serving ${source.repository} from ${source.gitDir}`);
    const site = { isolation, gitDir: source.gitDir, prefix: source.prefix, anchor };
    // Where this site's slots are, so a runner started after this process died finds its attempts.
    writeSiteRecord(runnerDir, key, { gitDir: source.gitDir, prefix: source.prefix, lockFile: source.lockFile, repository: source.repository });
    await this.keepDeadAttempts(site, key);
    this.ready.push(site);
    return site;
  }

  private runnerDir(): string {
    return path.resolve(this.options.runnerDir ?? this.options.reposDir ?? path.join(worktreesCacheRoot(), 'runner'));
  }

  /**
   * At start: the sites of runners on this machine that died (kill -9, power loss) with an attempt
   * in a slot. Their work is still in the slot's files only; it is kept and sent now, before any
   * slot is reused (which would clean it away), so a retry on any machine resumes from it.
   */
  private async keepWorkOfDeadRunners(): Promise<void> {
    const runnerDir = this.runnerDir();
    for (const [key, record] of readSiteRecords(runnerDir)) {
      const dead = attemptsOfDeadProcesses(slotsDirOf(runnerDir, key));
      const unsent = readUnsent(runnerDir, key);
      if ((dead.length === 0 && unsent.length === 0) || this.sites.has(key)) continue;
      if (!fs.existsSync(record.gitDir)) {
        removeSiteRecord(runnerDir, key);
        continue;
      }
      const site = this.makeSite({ ...record, commit: (dead[0]?.base ?? unsent[0].base) as string }, key);
      this.sites.set(key, site);
      site.catch(() => this.sites.delete(key));
      await site.catch((error: unknown) => this.log(`could not keep the work of a runner that died in ${record.gitDir}: ${(error as Error).message}`));
    }
  }

  /**
   * Slots of this site whose attempt's process died: the worktree isolation's prune commits each
   * one's files onto refs/swarm/<id> (and frees the slot); that work is then sent to the board
   * while the task can still be retried, and dropped when it ended (done, cancelled, gone). Each
   * such attempt is noted (`sites/<key>.unsent/<id>`) before the prune and forgotten once sent, so
   * a runner killed in between, or a board out of reach, leaves the sending to the next runner.
   */
  private async keepDeadAttempts(site: Site, key: string): Promise<void> {
    const runnerDir = this.runnerDir();
    const dead = attemptsOfDeadProcesses(slotsDirOf(runnerDir, key));
    for (const attempt of dead) noteUnsent(runnerDir, key, attempt.taskId as string, attempt.base as string);
    if (dead.length > 0) await site.isolation.prune?.();
    for (const { taskId, base } of readUnsent(runnerDir, key)) {
      const owner = dead.find((attempt) => attempt.taskId === taskId)?.ownerPid;
      try {
        const task = await this.options.board.get(taskId);
        if (!task || task.status === 'done' || task.status === 'cancelled') {
          await deleteRefs(site.gitDir, [`${PARTIAL_REF_PREFIX}${taskId}`]);
          this.log(`task ${taskId}: an attempt of a runner that died left work here; the task ${task ? `is ${task.status}` : 'is gone'}, so that work is dropped`);
        } else {
          this.log(`task ${taskId}: keeping the work of an attempt whose runner${owner ? ` (pid ${owner})` : ''} died`);
          await this.sendPartialWork(taskId, site, base);
        }
        forgetUnsent(runnerDir, key, taskId);
      } catch (error) {
        // Over the cap it never fits: it stays on the ref here, for a retry on this machine.
        if (error instanceof RemoteGitError && error.problem === 'too-large') forgetUnsent(runnerDir, key, taskId);
        this.log(`task ${taskId}: the work of an attempt whose runner died is kept on ${PARTIAL_REF_PREFIX}${taskId} but not sent yet (${(error as Error).message}); the next runner started here sends it`);
      }
    }
  }

  /**
   * Sends the partial work kept on refs/swarm/<id> (the abandoned attempt's files, as one commit on
   * the snapshot) as a thin bundle plus its result descriptor, so a retry on any machine resumes
   * from it. The bundle is stored first: a descriptor on the board always has its bundle.
   */
  private async sendPartialWork(taskId: string, site: Site, base: string | undefined): Promise<void> {
    if (!base) return;
    const ref = `${PARTIAL_REF_PREFIX}${taskId}`;
    const found = await runGit(['rev-parse', '--verify', '-q', `${ref}^{commit}`], { cwd: site.gitDir, okCodes: [1, 128] });
    if (found.code !== 0) return;
    const commit = found.stdout.toString('utf8').trim();
    const cap = this.options.maxBundleBytes ?? DEFAULT_ARTIFACT_CAP_BYTES;
    const output = await runGitCapped(['bundle', 'create', '--quiet', '-', ref, `^${base}`], site.gitDir, cap);
    if (!output.data) throw new RemoteGitError('too-large', `it is over the artifact cap (${megabytes(cap)}) and stays on ${ref} on this machine`);
    const patch = (await diffCommits({ cwd: site.gitDir, base, target: commit, prefix: site.prefix })).text;
    const descriptor: ResultDescriptor = { format: REMOTE_FORMAT, taskId, kind: 'partial', snapshot: base, commit, ref, patchBytes: Buffer.byteLength(patch), patchSha256: sha256(patch), bundleBytes: output.data.length, bundleSha256: sha256(output.data) };
    await this.options.board.putArtifact(taskId, PARTIAL_BUNDLE_ARTIFACT, output.data);
    await this.options.board.putArtifact(taskId, PARTIAL_DESCRIPTOR_ARTIFACT, JSON.stringify(descriptor));
    this.log(`task ${taskId}: partial work sent (${output.data.length} bytes, sha256 ${descriptor.bundleSha256?.slice(0, 12)})`);
  }

  /**
   * A retry starts from the partial work an earlier attempt sent from any machine: its bundle is
   * checked as untrusted input (one head refs/swarm/<id>, built on this task's snapshot, strict
   * objects) and becomes this repository's refs/swarm/<id>, which the worktree slot resumes from.
   * Partial work kept here that is newer (an attempt killed here, never sent) wins. Anything wrong
   * with the sent work is logged and the attempt starts from the snapshot: it is never lost work's
   * fault that the task fails.
   */
  private async receivePartialWork(task: Task, site: Site, snapshot: string): Promise<void> {
    const described = await this.options.board.getArtifact(task.id, PARTIAL_DESCRIPTOR_ARTIFACT);
    if (!described) return;
    const ref = `${PARTIAL_REF_PREFIX}${task.id}`;
    try {
      const descriptor = readResultDescriptor(JSON.parse(described.toString('utf8')));
      if (descriptor.taskId !== task.id || descriptor.kind !== 'partial') throw untrusted(`the partial work of task ${task.id} describes ${descriptor.kind} of task ${descriptor.taskId}`);
      if (descriptor.snapshot !== snapshot) return this.log(`task ${task.id}: the partial work sent builds on ${descriptor.snapshot.slice(0, 12)}, not on the task's snapshot; starting from the snapshot`);
      const local = await commitOf(site.gitDir, ref);
      if (local === descriptor.commit) return;
      const bundle = await this.options.board.getArtifact(task.id, PARTIAL_BUNDLE_ARTIFACT);
      await importResult({ repository: site.gitDir, descriptor, bundle, prefix: site.prefix, maxBytes: this.options.maxBundleBytes });
      if (local && (await committedAt(site.gitDir, local)) > (await committedAt(site.gitDir, descriptor.commit))) {
        await runGit(['update-ref', ref, local], { cwd: site.gitDir });
        return this.log(`task ${task.id}: the partial work kept here is newer than the one sent; resuming from it`);
      }
      this.log(`task ${task.id}: resuming from the partial work sent by an earlier attempt (${descriptor.commit.slice(0, 10)})`);
    } catch (error) {
      this.log(`task ${task.id}: the partial work sent by an earlier attempt was not used: ${(error as Error).message}`);
    }
  }

  /**
   * A follow-up (Request Changes) starts from the result it follows up, which that task's runner
   * sent as its result bundle, on any machine. The bundle is checked as untrusted input (a result
   * of that task, built on this task's snapshot) and its commit becomes refs/swarm/<id>, where the
   * slot starts as it would from partial work (the commit's parent is the snapshot, so the new patch
   * holds both changes). Partial work of the follow-up itself wins. Anything wrong is logged and the
   * attempt starts from the snapshot.
   */
  private async receiveFollowUpStart(task: Task, site: Site, snapshot: string): Promise<void> {
    const previousId = followUpOf(task);
    const ref = `${PARTIAL_REF_PREFIX}${task.id}`;
    if (!previousId || (await commitOf(site.gitDir, ref))) return;
    try {
      const described = await this.options.board.getArtifact(previousId, RESULT_DESCRIPTOR_ARTIFACT);
      if (!described) return this.log(`task ${task.id}: the result of task ${previousId} it follows up is not on the board; starting from the snapshot`);
      const descriptor = readResultDescriptor(JSON.parse(described.toString('utf8')));
      if (descriptor.taskId !== previousId || descriptor.kind !== 'result') throw untrusted(`the result of task ${previousId} describes ${descriptor.kind} of task ${descriptor.taskId}`);
      if (descriptor.snapshot !== snapshot) return this.log(`task ${task.id}: the result of task ${previousId} builds on ${descriptor.snapshot.slice(0, 12)}, not on this task's snapshot; starting from the snapshot`);
      const bundle = await this.options.board.getArtifact(previousId, RESULT_BUNDLE_ARTIFACT);
      await importResult({ repository: site.gitDir, descriptor, bundle, prefix: site.prefix, maxBytes: this.options.maxBundleBytes });
      await runGit(['update-ref', ref, descriptor.commit], { cwd: site.gitDir });
      // The start is kept on refs/swarm/<id>; the imported result's own ref is not needed here.
      await deleteRefs(site.gitDir, [descriptor.ref]);
      this.log(`task ${task.id}: starting from the result of task ${previousId} it follows up (${descriptor.commit.slice(0, 10)})`);
    } catch (error) {
      this.log(`task ${task.id}: the result of task ${previousId} it follows up was not used: ${(error as Error).message}`);
    }
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

function slotsDirOf(runnerDir: string, key: string): string {
  return path.join(runnerDir, 'slots', key);
}

function siteRecordFile(runnerDir: string, key: string): string {
  return path.join(runnerDir, 'sites', `${key}.json`);
}

function writeSiteRecord(runnerDir: string, key: string, record: SiteRecord): void {
  const file = siteRecordFile(runnerDir, key);
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic.sync(file, `${JSON.stringify(record)}\n`);
}

function removeSiteRecord(runnerDir: string, key: string): void {
  fs.rmSync(siteRecordFile(runnerDir, key), { force: true });
}

/** The site records this machine's runners wrote; unreadable ones are skipped (written atomically, so only by hand). */
function readSiteRecords(runnerDir: string): Array<[string, SiteRecord]> {
  const dir = path.join(runnerDir, 'sites');
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const records: Array<[string, SiteRecord]> = [];
  for (const name of names) {
    try {
      const value = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as Partial<SiteRecord>;
      if (typeof value.gitDir === 'string' && typeof value.prefix === 'string' && typeof value.lockFile === 'string') records.push([name.slice(0, -'.json'.length), { gitDir: value.gitDir, prefix: value.prefix, lockFile: value.lockFile, repository: String(value.repository ?? value.gitDir) }]);
    } catch {
      continue;
    }
  }
  return records;
}

function unsentDir(runnerDir: string, key: string): string {
  return path.join(runnerDir, 'sites', `${key}.unsent`);
}

/** Notes that a dead attempt's work is to be sent: the file, named by the task, holds its base. */
function noteUnsent(runnerDir: string, key: string, taskId: string, base: string): void {
  if (!isValidId(taskId) || !/^[0-9a-f]{40,64}$/.test(base)) return;
  fs.mkdirSync(unsentDir(runnerDir, key), { recursive: true });
  writeFileAtomic.sync(path.join(unsentDir(runnerDir, key), taskId), `${base}\n`);
}

function readUnsent(runnerDir: string, key: string): Array<{ taskId: string; base: string }> {
  let names: string[];
  try {
    names = fs.readdirSync(unsentDir(runnerDir, key));
  } catch {
    return [];
  }
  const found: Array<{ taskId: string; base: string }> = [];
  for (const name of names.filter(isValidId)) {
    let base = '';
    try {
      base = fs.readFileSync(path.join(unsentDir(runnerDir, key), name), 'utf8').trim();
    } catch {
      continue; // not a file this runner wrote
    }
    if (/^[0-9a-f]{40,64}$/.test(base)) found.push({ taskId: name, base });
  }
  return found;
}

function forgetUnsent(runnerDir: string, key: string, taskId: string): void {
  fs.rmSync(path.join(unsentDir(runnerDir, key), taskId), { force: true });
}

/** Slots whose attempt (a task and its base) belongs to a process that is gone. */
function attemptsOfDeadProcesses(slotsDir: string): SlotState[] {
  return listSlotStates(slotsDir).filter((state) => state.phase === 'ready' && state.taskId !== undefined && state.base !== undefined && state.ownerPid !== process.pid && !isProcessAlive(state.ownerPid ?? 0));
}

/** One folder name per repository and workspace folder inside it. */
function siteKey(gitDir: string, prefix: string): string {
  const hash = crypto.createHash('sha256').update(`${gitDir}\0${prefix}`).digest('hex').slice(0, 16);
  return `${path.basename(gitDir).replace(/[^A-Za-z0-9._-]+/g, '_').slice(-40)}-${hash}`;
}

/**
 * The worktree isolation needs a working tree to stand in; a bare cache repository has none. The
 * anchor is a linked worktree without a checkout (no files written), made once; its slots are
 * worktrees of the same repository, each starting from a task's snapshot commit.
 */
async function ensureAnchor(gitDir: string, anchor: string, commit: string): Promise<void> {
  if (fs.existsSync(anchor)) {
    const valid = await runGit(['rev-parse', '--git-dir'], { cwd: anchor, okCodes: [128] });
    if (valid.code === 0) return;
    fs.rmSync(anchor, { recursive: true, force: true });
  }
  await runGit(['worktree', 'prune'], { cwd: gitDir });
  fs.mkdirSync(path.dirname(anchor), { recursive: true });
  await runGit(['worktree', 'add', '--no-checkout', '--detach', anchor, commit], { cwd: gitDir });
}

async function removeAnchor(gitDir: string, anchor: string): Promise<void> {
  await runGit(['worktree', 'remove', '--force', anchor], { cwd: gitDir, okCodes: [128] });
  fs.rmSync(anchor, { recursive: true, force: true });
  await runGit(['worktree', 'prune'], { cwd: gitDir });
}

/** Anchors `<key>.p<pid>` of processes that are gone (a runner killed before its release). */
async function removeDeadAnchors(gitDir: string, anchorsDir: string, key: string): Promise<void> {
  let names: string[];
  try {
    names = fs.readdirSync(anchorsDir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = name.startsWith(`${key}.p`) ? Number(name.slice(key.length + 2)) : NaN;
    // Old anchors had no pid (`<key>`): no process owns them any more.
    if (name === key || (Number.isInteger(pid) && pid !== process.pid && !isProcessAlive(pid))) await removeAnchor(gitDir, path.join(anchorsDir, name));
  }
}

async function deleteRefs(gitDir: string, refs: readonly string[]): Promise<void> {
  if (refs.length === 0) return;
  await runGit(['update-ref', '--stdin'], { cwd: gitDir, input: refs.map((ref) => `delete ${ref}\n`).join('') });
}

/** What a host needs to turn its pool into a runner of a shared board. */
export interface RunnerSettings {
  /** Repository cache folder (`swarm run --repos DIR`). */
  reposDir?: string;
  /** This runner's labels (`swarm run --labels a,b`). */
  labels?: readonly string[];
  /** Tasks may name repositories by local path (tests, trusted setups only). */
  allowLocalUrls?: boolean;
  /** How long the bundles of tasks that ended stay on the board (`swarm run --keep-results DAYS`); default 7 days. */
  transportRetentionMs?: number;
}

/**
 * The pool's isolation on a shared board: tasks with a source start from the poster's snapshot in
 * a repository of this machine (`clone`: the workspace, when it is a git clone; or the cache);
 * tasks without one run in `local` as today. `worktree` builds the worktree isolation with the
 * host's own settings (include list, setup command).
 */
export function createRunnerIsolation(options: {
  board: RunnerBoard;
  workspaceRoot: string;
  local?: TaskIsolation;
  worktree: (options: { workspaceRoot: string; worktreesDir: string; startFrom: (task: Task) => string | undefined }) => TaskIsolation;
  settings: RunnerSettings;
  log?: (line: string) => void;
}): RemoteWorkspace {
  const clone = findUp(options.workspaceRoot, '.git') ? options.workspaceRoot : undefined;
  return new RemoteWorkspace({
    board: options.board,
    local: options.local,
    makeIsolation: options.worktree,
    clone,
    reposDir: options.settings.reposDir,
    labels: options.settings.labels,
    allowLocalUrls: options.settings.allowLocalUrls,
    transportRetentionMs: options.settings.transportRetentionMs,
    log: options.log,
  });
}

async function commitOf(gitDir: string, ref: string): Promise<string | undefined> {
  const found = await runGit(['rev-parse', '--verify', '-q', `${ref}^{commit}`], { cwd: gitDir, okCodes: [1, 128] });
  return found.code === 0 ? found.stdout.toString('utf8').trim() : undefined;
}

/** Committer time in seconds: which of two partial-work commits was saved last. */
async function committedAt(gitDir: string, commit: string): Promise<number> {
  return Number(await gitText(['log', '-1', '--format=%ct', commit], { cwd: gitDir }));
}

function findUp(start: string, name: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, name))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}
