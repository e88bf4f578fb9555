// TaskIsolation with one git worktree per agent slot. prepare() snapshots the user's working state
// (never touching their tree or index), then either resets the slot's existing worktree to the
// snapshot (warm: clean + reset --hard) or creates it (cold: worktree add + includes + setup).
// collect() turns the worktree into a patch against the snapshot; abandon() keeps partial work as a
// commit on refs/swarm/<taskId>; prune() repairs whatever a crash left behind.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Task } from '../board/types';
import { runInProcessGroup } from '../executors/process';
import { findProcessesInside } from '../process/marked';
import { terminate } from '../process/terminate';
import type { CollectedChanges, PreparedWorkspace, SandboxPaths, TaskIsolation } from '../pool/isolation';
import { createCommandSandbox, type ActiveSandbox } from '../sandbox/launcher';
import { isInside } from '../sandbox/policy';
import { tracePhase, tracePhaseSync } from '../trace';
import { diffStaged, stageEverything } from './diff';
import { WorktreeError } from './errors';
import { gitText, hardenedGitConfig, runGit } from './git';
import { isValidId } from '../board/names';
import { REPOSITORY_MARK, assertOutsideCheckout, defaultWorktreesDir, legacyWorktreesDir, markRepository, sweepForgottenRepositories } from './location';
import { PARKED_DIR, adoptParked, claimParked, listParked, parkSlot, removeParked } from './parked';
import { foldSmallPacks } from './packs';
import { removeHalfRegistrations } from './registrations';
import { assertGitWorkspace, locateRepository, snapshotWorkingState, type RepoInfo } from './repo';
import { isProcessAlive, isSlotBusy, listSlotStates, readSlotState, slotPaths, writeSlotState, type SlotState } from './slots';

export const DEFAULT_INCLUDE = ['node_modules', '.env', '.env.local'];
export const DEFAULT_MAX_SLOTS = 8;
export const DEFAULT_DISK_BUDGET_BYTES = 10 * 1024 ** 3;
export const PARTIAL_REF_PREFIX = 'refs/swarm/';
export const BASE_REF_PREFIX = 'refs/swarm-base/';

export interface WorktreeIsolationOptions {
  workspaceRoot: string;
  /**
   * Where slot worktrees live; default a per-repository folder in the user's cache
   * (`$XDG_CACHE_HOME/agent-swarm/worktrees/<repo>-<hash>`), outside the checkout. A folder inside
   * the checkout is refused.
   */
  worktreesDir?: string;
  /** Keep idle slots when the pool stops (warm for the next run); default false: removed. */
  keepIdleSlots?: boolean;
  /**
   * Workspace-relative ignored paths made available in every worktree: directories are symlinked
   * (node_modules), files are copied (.env, so an agent's edit never reaches the user's file).
   */
  include?: string[];
  /** Shell command run once in every fresh worktree (e.g. `npm ci`); a failure fails the prepare. */
  setupCommand?: string;
  maxSlots?: number;
  /** Budget for all slot worktrees together; least recently used idle slots are removed above it. */
  diskBudgetBytes?: number;
  /** Start a retried task from its saved partial work (refs/swarm/<id>); default true. */
  resumePartialWork?: boolean;
  /**
   * The commit a task starts from instead of a snapshot of the workspace: a runner starts a shared
   * board's task from the poster's snapshot (src/core/remote/workspace.ts). Undefined: snapshot.
   */
  startFrom?: (task: Task) => string | undefined;
  /** How long a warm-up stands for the working state (see warmUp); default WARM_UP_SERVES_MS. */
  warmUpServesMs?: number;
  log?: (line: string) => void;
}

/**
 * How long a warm-up stands for the working state: the tasks the warmed agents claim within this
 * time start from the warm-up's snapshot (the run's start); later ones take a fresh one.
 */
export const WARM_UP_SERVES_MS = 15_000;

/** Where a warm-up left a slot: its directory name and the commit it is at. */
interface WarmSlot {
  name: string;
  start: string;
}

/** The stand-in task of a warm-up (a setup command sees its id; it never reaches the board). */
function warmUpTask(): Task {
  const now = Date.now();
  return { id: 'warm-up', title: 'warm-up', type: 'warm-up', prompt: '', files: [], priority: 0, payload: undefined, status: 'running', attempts: 1, maxAttempts: 1, createdAt: now, updatedAt: now };
}

export interface WorktreeInfo {
  path: string;
  slot?: string;
  taskId?: string;
  branch?: string;
  head: string;
  /** Left behind (no state, half-created, owner gone) and removable by prune. */
  stale: boolean;
  busy: boolean;
  lastUsed?: number;
}

export class WorktreeIsolation implements TaskIsolation {
  readonly kind = 'worktree';
  private repoPromise?: Promise<RepoInfo>;
  private readonly workspaceRoot: string;
  private readonly include: string[];
  private readonly maxSlots: number;
  private readonly diskBudgetBytes: number;
  private explicitDir?: string;
  /**
   * Prune and removals run one at a time and never beside a worktree creation (they would take a
   * half-made slot for a leftover); creations of different slots run in parallel (git marks a new
   * worktree "initializing" for other processes' prunes).
   */
  private adminChain: Promise<unknown> = Promise.resolve();
  private readonly creating = new Set<Promise<unknown>>();
  private registrationChain: Promise<unknown> = Promise.resolve();
  /** Pool slot → slot directory name, when another live process already uses the plain name. */
  private readonly slotNames = new Map<string, string>();
  private lastDiskCheck = 0;
  private sandbox: ActiveSandbox | undefined;
  /** The run's snapshot, shared by its tasks; see runSnapshot. */
  private sharedSnapshot?: Promise<string>;
  /** The shared snapshot is still being taken: tasks starting now share it too. */
  private sharedSnapshotPending = false;
  /** Tasks starting before this time share the run's snapshot even with no attempt in flight (see warmUp). */
  private warmSnapshotUntil = 0;
  /** Slots made ready ahead of their first task (see warmUp), until that task's prepare takes them. */
  private readonly warming = new Map<string, Promise<WarmSlot | undefined>>();
  /** Aborts warm-ups still running when the pool stops (a new one per start: see release). */
  private warmUpAbort = new AbortController();
  /** Pool slots with a prepared attempt not yet collected or abandoned. */
  private readonly attemptsInFlight = new Set<string>();
  private commandEnv: Record<string, string> = {};

  constructor(private readonly options: WorktreeIsolationOptions) {
    this.workspaceRoot = path.resolve(options.workspaceRoot);
    assertGitWorkspace(this.workspaceRoot);
    const listed = [...(options.include ?? DEFAULT_INCLUDE), ...readWorktreeIncludeFile(this.workspaceRoot)];
    this.include = [...new Set(listed.map((entry) => entry.trim().replace(/^\.?\//, '').replace(/\/+$/, '')).filter(Boolean))];
    this.maxSlots = options.maxSlots ?? DEFAULT_MAX_SLOTS;
    this.diskBudgetBytes = options.diskBudgetBytes ?? DEFAULT_DISK_BUDGET_BYTES;
    this.explicitDir = options.worktreesDir ? path.resolve(options.worktreesDir) : undefined;
  }

  /**
   * The pool's sandbox for the setup command (the executor's commands get theirs from the worker),
   * and the environment marks its processes carry (so leftovers are found by the host).
   */
  useSandbox(sandbox: ActiveSandbox | undefined, commandEnv: Record<string, string> = {}): void {
    this.sandbox = sandbox;
    this.commandEnv = commandEnv;
  }

  repo(): Promise<RepoInfo> {
    this.repoPromise ??= locateRepository(this.workspaceRoot);
    return this.repoPromise;
  }

  async worktreesDir(): Promise<string> {
    const repo = await this.repo();
    if (this.explicitDir === undefined) return defaultWorktreesDir(repo);
    assertOutsideCheckout(this.explicitDir, repo);
    return this.explicitDir;
  }

  /**
   * Makes `slots` ready for their first task while the agents that will claim it still boot: the
   * run's snapshot is taken and each slot's worktree created (or reset) at it, so that task's
   * prepare finds its workspace done. A slot warmed up stays locked by this process; a warm-up
   * that fails only costs the prepare the usual work. Not for a runner (startFrom): its tasks
   * start from their poster's snapshot, known only with the task. Not with a setup command either:
   * the setup is part of its task's attempt (it sees the task's id, a cancel of the task ends it).
   */
  warmUp(slots: string[], when: Promise<unknown>): void {
    if (this.options.startFrom !== undefined || this.options.setupCommand || slots.length === 0) return;
    const repo = this.repo();
    // One snapshot for all of them, taken now (it reads the workspace, it writes no slot).
    const snapshot = repo.then((info) => tracePhase('snapshot', undefined, () => this.runSnapshot(info, warmUpTask())));
    snapshot.catch(() => undefined); // each slot's warm-up sees the failure
    // The tasks the warmed agents claim start from this snapshot (see runSnapshot).
    void snapshot.then(() => (this.warmSnapshotUntil = Date.now() + this.warmUpServesMs()), () => undefined);
    for (const slot of slots) {
      if (this.warming.has(slot)) continue;
      const work = this.warmSlot(slot, when.then(() => snapshot), this.warmUpAbort.signal).catch((error: unknown) => {
        this.log(`slot ${slot} could not be made ready ahead of its first task (${(error as Error).message.split('\n')[0]}); its task prepares it`);
        return undefined;
      });
      this.warming.set(slot, work);
    }
  }

  async prepare(task: Task, slot: string, _artifactsDir: string, signal?: AbortSignal): Promise<PreparedWorkspace> {
    const warmed = await this.takeWarmed(slot);
    signal?.throwIfAborted();
    const repo = await this.repo();
    const dir = await this.worktreesDir();
    // Which repository the folder serves, so it is swept once the repository is gone.
    if (this.explicitDir === undefined) markRepository(dir, repo);
    // The slot's directory name: the pool's slot id, unless another live process holds that one.
    const name = this.claimSlot(dir, slot);
    const { stateFile } = slotPaths(dir, name);
    try {
      const prepared = await this.prepareClaimed(task, repo, dir, name, signal, warmed?.name === name ? warmed.start : undefined);
      this.attemptsInFlight.add(slot);
      return prepared;
    } catch (error) {
      // Cancelled or failed before the attempt got its workspace: the slot is free again at once
      // (a half-made worktree stays marked `creating` for the next prepare or prune to remove).
      this.releaseSlot(stateFile);
      throw error;
    }
  }

  /**
   * `warmedAt`: the commit a warm-up made the slot ready at; when the task starts there too, the
   * slot is used as it is (nothing ran in it since: this process has held its lock throughout).
   */
  private async prepareClaimed(task: Task, repo: RepoInfo, dir: string, name: string, signal: AbortSignal | undefined, warmedAt: string | undefined): Promise<PreparedWorkspace> {
    const { dir: worktree, stateFile } = slotPaths(dir, name);
    const startingPoint = tracePhase('snapshot', task.id, () => this.runSnapshot(repo, task)).then((snapshot) => this.startingPoint(task, snapshot));
    // Unhandled until awaited below (after the slot's clean-up began): a failure is thrown there.
    startingPoint.catch(() => undefined);
    const ready = warmedAt !== undefined && (await startingPoint).start === warmedAt;
    const warm = ready || (await this.bringSlotTo(name, worktree, stateFile, startingPoint.then((point) => point.start), task, signal));
    const { start, base } = await startingPoint;
    const state = readSlotState(stateFile) as SlotState;
    // Includes that appeared in the workspace since the slot was made are linked now.
    const linked = [...new Set([...(state.linked ?? []), ...(warm ? this.linkIncludes(worktree, repo.prefix) : [])])];
    writeSlotState(stateFile, { ...state, linked, taskId: task.id, ownerPid: process.pid, base, lastUsed: Date.now() });
    this.log(`task ${task.id}: ${ready ? 'ready' : warm ? 'warm' : 'cold'} worktree ${worktree} at ${start.slice(0, 10)}`);
    const cwd = repo.prefix ? path.join(worktree, repo.prefix) : worktree;
    return { cwd, snapshot: base, sandbox: this.sandboxPaths(repo, dir, worktree, state) };
  }

  /**
   * Brings the claimed slot `name` to `start`: a slot an earlier attempt left ready is cleaned and
   * reset (warm, returns true), any other is created (cold). Cleaning does not depend on the
   * starting point, so it runs while that is still being computed.
   */
  private async bringSlotTo(name: string, worktree: string, stateFile: string, startingPoint: Promise<string>, task: Task, signal: AbortSignal | undefined): Promise<boolean> {
    await this.endLeftoversIn(worktree);
    const previous = readSlotState(stateFile);
    const reusable = previous?.phase === 'ready' && fs.existsSync(path.join(worktree, '.git'));
    const cleaned = reusable ? tracePhase('slot clean', task.id, () => this.cleanSlot(worktree, previous)) : Promise.resolve(false);
    const start = await startingPoint;
    signal?.throwIfAborted();
    // No base ref yet: the slot's HEAD keeps the snapshot reachable during the attempt; collect()
    // keeps it only for a result that has changes, abandon() through the partial-work commit.
    const warm = (await cleaned) && (await tracePhase('slot reset', task.id, () => this.resetWarm(worktree, previous as SlotState, start)));
    if (!warm) await tracePhase('slot create', task.id, () => this.createCold(name, worktree, stateFile, start, task, signal));
    return warm;
  }

  /**
   * A warm-up of one slot (see warmUp): once the sweep is done (`snapshot` settles after it), the
   * slot is claimed, brought to the run's snapshot and left locked for its first task.
   */
  private async warmSlot(slot: string, snapshot: Promise<string>, signal: AbortSignal): Promise<WarmSlot> {
    const start = await snapshot;
    signal.throwIfAborted();
    const repo = await this.repo();
    const dir = await this.worktreesDir();
    if (this.explicitDir === undefined) markRepository(dir, repo);
    const name = this.claimSlot(dir, slot);
    const { dir: worktree, stateFile } = slotPaths(dir, name);
    try {
      await this.bringSlotTo(name, worktree, stateFile, Promise.resolve(start), warmUpTask(), signal);
      writeSlotState(stateFile, { ...(readSlotState(stateFile) as SlotState), taskId: undefined, ownerPid: undefined, lastUsed: Date.now() });
      return { name, start };
    } catch (error) {
      this.releaseSlot(stateFile);
      throw error;
    }
  }

  private warmUpServesMs(): number {
    return this.options.warmUpServesMs ?? WARM_UP_SERVES_MS;
  }

  /**
   * The warm-up of `slot`, taken by its first prepare (awaited if still running): where it left
   * the slot, or undefined (none, or failed). The prepare uses the slot as it is only when its task
   * starts from that very commit (once the warm-up no longer stands for the working state, the
   * task's fresh snapshot is another commit).
   */
  private async takeWarmed(slot: string): Promise<WarmSlot | undefined> {
    const work = this.warming.get(slot);
    if (work === undefined) return undefined;
    this.warming.delete(slot);
    return work;
  }

  /**
   * A slot is never handed out while anything of an earlier attempt still runs in it (a command of
   * a host that died, a daemon that left its tree): processes working in it that carry a swarm mark
   * are ended first. Others (a shell the user opened there) are left alone and logged.
   */
  private async endLeftoversIn(worktree: string): Promise<void> {
    const found = findProcessesInside(worktree);
    const leftovers = found.filter((entry) => entry.marked).map((entry) => entry.pid);
    for (const stranger of found.filter((entry) => !entry.marked)) this.log(`process ${stranger.pid} works in ${worktree} but was not started by the swarm; it is left alone`);
    if (leftovers.length === 0) return;
    this.log(`ending ${leftovers.length} process(es) of an earlier attempt still running in ${worktree}`);
    await terminate({ roots: leftovers, includeRoots: true }, { graceMs: 0, killWaitMs: 5_000 });
  }

  /**
   * What an attempt in this slot may write: its worktree, the worktree's git admin folder (index,
   * HEAD: the slot is on a detached HEAD, so committing needs no shared ref) and the object store.
   * The checkout, the repository's config, refs and hooks, and the other slots stay read-only, and
   * so do the files that tie the worktree to the repository (a changed link could point the host's
   * own git at a configuration of the attempt's making).
   */
  private sandboxPaths(repo: RepoInfo, worktreesDir: string, worktree: string, state: SlotState): SandboxPaths {
    const gitDir = this.slotGitDir(worktree, repo, state);
    return {
      writable: [worktree, gitDir, path.join(repo.commonDir, 'objects')],
      // The whole cache folder of worktrees (other repositories' slots too) stays read-only, even
      // where a writable cache folder (~/.cache) contains it.
      protect: [this.workspaceRoot, repo.topLevel, repo.commonDir, worktreesDir, ...(this.explicitDir === undefined ? [path.dirname(worktreesDir)] : [])],
      protectAfter: [path.join(worktree, '.git'), path.join(gitDir, 'commondir'), path.join(gitDir, 'gitdir'), path.join(gitDir, 'config.worktree')],
      readable: [this.workspaceRoot, repo.topLevel, repo.commonDir],
    };
  }

  /**
   * The slot's git admin folder (`<common dir>/worktrees/<name>`): recorded when the slot was made,
   * else read from the worktree's `.git` file and accepted only where git keeps admin folders.
   */
  private slotGitDir(worktree: string, repo: RepoInfo, state: SlotState | undefined): string {
    const adminRoot = path.join(repo.commonDir, 'worktrees');
    const recorded = state?.gitDir;
    if (recorded && isInside(recorded, adminRoot) && recorded !== adminRoot) return recorded;
    const link = fs.readFileSync(path.join(worktree, '.git'), 'utf8');
    const match = /^gitdir: (.+)$/m.exec(link);
    const gitDir = match ? path.resolve(worktree, match[1].trim()) : '';
    if (!gitDir || !isInside(realish(gitDir), realish(adminRoot)) || realish(gitDir) === realish(adminRoot)) {
      throw new WorktreeError('refused', `The worktree ${worktree} links to ${gitDir || 'nothing'}, not to an admin folder of this repository, so git is not run there; the slot is recreated for the next attempt.`);
    }
    return gitDir;
  }

  /**
   * Environment for the host's own git commands in a slot after an attempt ran there: the git
   * folders named explicitly (nothing the attempt wrote into the slot redirects them), no fsmonitor,
   * no hooks. Also removes what git would follow or read from the admin folder (reflogs, which may
   * have become symlinks; a config.worktree) and, given `head`, detaches HEAD there, so a HEAD the
   * attempt turned into `ref: refs/heads/main` can never make the host move the user's branch.
   */
  private async slotGit(worktree: string, state: SlotState | undefined, head?: string): Promise<Record<string, string>> {
    const repo = await this.repo();
    const gitDir = this.slotGitDir(worktree, repo, state);
    fs.rmSync(path.join(gitDir, 'logs'), { recursive: true, force: true });
    fs.rmSync(path.join(gitDir, 'config.worktree'), { recursive: true, force: true });
    if (head !== undefined) {
      fs.rmSync(path.join(gitDir, 'HEAD'), { recursive: true, force: true });
      fs.writeFileSync(path.join(gitDir, 'HEAD'), `${head}\n`, { flag: 'wx' });
    }
    return { GIT_DIR: gitDir, GIT_WORK_TREE: worktree, GIT_COMMON_DIR: repo.commonDir, ...hardenedGitConfig() };
  }

  async collect(task: Task, slot: string, prepared: PreparedWorkspace, artifactsDir: string): Promise<CollectedChanges> {
    this.attemptEnded(slot);
    const repo = await this.repo();
    const name = this.slotNames.get(slot) ?? slot;
    const { dir: worktree, stateFile } = slotPaths(await this.worktreesDir(), name);
    const state = readSlotState(stateFile);
    const base = prepared.snapshot ?? state?.base;
    if (!base) {
      throw new WorktreeError(
        'environment',
        `Task ${task.id}: the record of slot ${slot} (${stateFile}) was removed while the attempt ran, so its changes cannot be computed; the task is retried. Do not prune worktrees while agents run.`,
      );
    }
    const env = await this.slotGit(worktree, state, base);
    await tracePhase('collect stage', task.id, async () => {
      await clearIndexMarks(worktree, env); // a change behind a mark is part of the result too
      await stageEverything({ cwd: worktree, exclude: state?.linked, env });
    });
    const diff = await tracePhase('collect diff', task.id, () => diffStaged({ cwd: worktree, base, prefix: repo.prefix, env }));
    const changes: CollectedChanges = { files: diff.files, base };
    if (diff.text.length > 0) {
      fs.mkdirSync(artifactsDir, { recursive: true });
      changes.patchFile = path.join(artifactsDir, 'result.patch');
      fs.writeFileSync(changes.patchFile, diff.text);
      // Keeps the base reachable for review and three-way apply even after gc; a task without
      // changes has nothing to review, so it leaves no ref behind.
      await runGit(['update-ref', `${BASE_REF_PREFIX}${task.id}`, base], { cwd: repo.topLevel });
    }
    if (hasRef(repo.commonDir, `${PARTIAL_REF_PREFIX}${task.id}`)) await runGit(['update-ref', '-d', `${PARTIAL_REF_PREFIX}${task.id}`], { cwd: repo.topLevel, okCodes: [1] });
    this.releaseSlot(stateFile);
    await this.enforceDiskBudget(name);
    return changes;
  }

  /** A batch's other tasks with changes: the base ref collect() made for the first task, for each of them. */
  async keepBase(taskIds: string[], base: string): Promise<void> {
    const repo = await this.repo();
    // The request may come from an agent process: only task ids and a commit id reach git.
    if (!/^[0-9a-f]{40,64}$/.test(base)) throw new WorktreeError('refused', `Not a commit id: ${base}`);
    for (const id of taskIds) if (!isValidId(id)) throw new WorktreeError('refused', `Not a task id: ${id}`);
    if (taskIds.length === 0) return;
    // One git process for all of them (a batch of 4 tasks made 3), in one transaction.
    await runGit(['update-ref', '--stdin'], { cwd: repo.topLevel, input: taskIds.map((id) => `update ${BASE_REF_PREFIX}${id} ${base}\n`).join('') });
  }

  async abandon(task: Task, slot: string, prepared: PreparedWorkspace, reason: string): Promise<void> {
    this.attemptEnded(slot);
    let stateFile: string | undefined;
    try {
      const paths = slotPaths(await this.worktreesDir(), this.slotNames.get(slot) ?? slot);
      stateFile = paths.stateFile;
      const worktree = paths.dir;
      const base = prepared.snapshot ?? readSlotState(stateFile)?.base;
      if (base && fs.existsSync(path.join(worktree, '.git'))) {
        const saved = await this.savePartialWork(worktree, task.id, base, reason);
        if (saved) this.log(`task ${task.id}: partial work kept on ${PARTIAL_REF_PREFIX}${task.id} (${saved.slice(0, 10)})`);
      }
    } catch (error) {
      this.log(`task ${task.id}: could not keep partial work: ${(error as Error).message}`);
    } finally {
      if (stateFile) this.releaseSlot(stateFile);
    }
  }

  /** Start and shutdown housekeeping; see pruneWorktrees. Returns how many worktrees were removed. */
  async prune(): Promise<void> {
    await this.pruneCount();
  }

  /** With `idle`, slots no attempt is using are removed too (`swarm worktrees --prune`). */
  async pruneCount(options: { idle?: boolean } = {}): Promise<number> {
    return this.admin(async () => {
      const repo = await this.repo();
      const dir = await this.worktreesDir();
      // Before any `git worktree` command: a half-written registration can make them all fail.
      removeHalfRegistrations(repo.commonDir, dir, (worktree) => lockedElsewhere(`${worktree}.lock`));
      if (this.explicitDir === undefined) for (const gone of sweepForgottenRepositories(path.dirname(dir))) this.log(`removed the worktrees of a repository that no longer exists: ${gone}`);
      await runGit(['worktree', 'prune'], { cwd: repo.topLevel });
      const attempted = await this.removeLegacySlots(repo, dir);
      const registered = await this.registeredWorktrees();
      for (const entry of registered.filter((wt) => isUnder(dir, wt.path))) {
        if (lockedElsewhere(`${entry.path}.lock`)) continue;
        const state = listSlotStates(dir).find((candidate) => samePath(candidate.path, entry.path));
        if (state && state.phase === 'ready' && fs.existsSync(path.join(entry.path, '.git'))) {
          if (state.taskId && !isSlotBusy(state)) await this.rescueCrashedAttempt(state);
          if (!options.idle || isSlotBusy(state)) continue;
          fs.rmSync(slotPaths(dir, state.slot).stateFile, { force: true });
        }
        await this.removeWorktreeDir(entry.path);
        attempted.push(entry.path);
      }
      const unregistered = this.removeUnregistered(dir, registered.map((wt) => wt.path));
      // Half-made or half-taken parked trees of dead processes; with `idle`, every parked tree.
      const parked = removeParked(dir, { all: options.idle });
      removeStaleTempFiles(path.join(repo.gitDir, 'swarm-tmp'));
      const removed = await this.registrationsRemoved(repo, attempted);
      return removed + unregistered + (options.idle ? parked : 0);
    });
  }

  /**
   * How many of the `attempted` worktree removals also removed the registration (a removal git
   * refused is not a removal; it is logged). Nothing attempted (a run's start after a clean end):
   * no second prune and listing, two git processes fewer before the agents start.
   */
  private async registrationsRemoved(repo: RepoInfo, attempted: string[]): Promise<number> {
    if (attempted.length === 0) return 0;
    await runGit(['worktree', 'prune'], { cwd: repo.topLevel });
    const remaining = await this.registeredWorktrees();
    const kept = attempted.filter((worktree) => remaining.some((entry) => samePath(entry.path, worktree)));
    for (const worktree of kept) this.log(`could not remove the worktree registration of ${worktree}; remove it with: git worktree remove --force --force ${worktree}`);
    return attempted.length - kept.length;
  }

  /** Disk used by all slot worktrees (linked dependencies not counted), and the budget. */
  async diskUsage(): Promise<{ bytes: number; budgetBytes: number }> {
    return { bytes: await diskUsage(await this.worktreesDir()), budgetBytes: this.diskBudgetBytes };
  }

  async list(): Promise<WorktreeInfo[]> {
    const dir = await this.worktreesDir();
    const states = listSlotStates(dir);
    const registered = await this.registeredWorktrees();
    return registered
      .filter((wt) => isUnder(dir, wt.path))
      .map((wt) => {
        const state = states.find((candidate) => samePath(candidate.path, wt.path));
        const busy = state ? isSlotBusy(state) : false;
        const stale = !state || state.phase !== 'ready' || !fs.existsSync(path.join(wt.path, '.git'));
        return { path: wt.path, slot: state?.slot, taskId: busy ? state?.taskId : undefined, branch: wt.branch, head: wt.head, stale, busy, lastUsed: state?.lastUsed };
      });
  }

  /**
   * When the pool stops: the idle slots this process used leave `git worktree list` (unless
   * keepIdleSlots). Their files are parked for the next run's slots (see parked.ts) where they can
   * be, else removed. Slots still busy stay for prune.
   */
  async release(): Promise<void> {
    // A slot still being warmed up is finished (or given up) before it is parked or removed. The
    // next start of a pool with this isolation warms its slots up again: only these are aborted.
    const running = this.warmUpAbort;
    this.warmUpAbort = new AbortController();
    running.abort();
    await Promise.all(this.warming.values());
    this.warming.clear();
    // Only after a run that used slots (and so staged results).
    if (this.slotNames.size > 0) await this.foldPacks();
    if (this.options.keepIdleSlots) return;
    const dir = await this.worktreesDir();
    let parked = 0;
    for (const name of new Set(this.slotNames.values())) {
      const { stateFile } = slotPaths(dir, name);
      const state = readSlotState(stateFile);
      if (!state || isSlotBusy(state)) continue;
      await this.admin(async () => {
        if (await this.parkIdleSlot(dir, state)) {
          fs.rmSync(stateFile, { force: true });
          parked += 1;
        } else await this.removeSlot(state);
      }).catch((error: unknown) => this.log(`could not remove the idle worktree ${state.path}: ${(error as Error).message}`));
      fs.rmSync(lockFile(dir, name), { force: true });
    }
    this.slotNames.clear();
    // One prune drops the registrations of every parked slot (their folders moved away).
    if (parked > 0) await this.admin(async () => runGit(['worktree', 'prune'], { cwd: (await this.repo()).topLevel }));
    // Nothing left but the repository mark: the folder goes too (made again by the next run).
    if (this.explicitDir === undefined) removeIfOnlyMarked(dir);
  }

  /** The small packs the run's results were staged into, folded (see packs.ts); a failure is only logged. */
  private async foldPacks(): Promise<void> {
    try {
      const repo = await this.repo();
      if (await foldSmallPacks(repo.commonDir, repo.topLevel)) this.log(`folded the small packs the run's results were staged into (git repack --geometric=2)`);
    } catch (error) {
      this.log(`could not fold the small packs of this run's results: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  /**
   * Parks an idle slot's files for a later slot of this repository; false when it is not parked
   * (a setup command made it: its ignored files are the setup's; enough trees parked already; or
   * it is not as a finished attempt leaves it) and must be removed instead.
   */
  private async parkIdleSlot(dir: string, state: SlotState): Promise<boolean> {
    if (this.options.setupCommand || state.phase !== 'ready' || listParked(dir).length >= this.maxSlots) return false;
    try {
      const gitDir = this.slotGitDir(state.path, await this.repo(), state);
      return tracePhaseSync('slot park', undefined, () => parkSlot(dir, state.path, gitDir, state.linked ?? []));
    } catch (error) {
      this.log(`could not park the idle worktree ${state.path} (${(error as Error).message.split('\n')[0]}); removing it`);
      return false;
    }
  }

  /**
   * Deletes `refs/swarm-base/<id>` and `refs/swarm/<id>` refs the caller no longer needs (`keep`
   * answers per task and kind; the board knows which results still wait for review). Returns how
   * many were deleted.
   */
  async pruneRefs(keep: (taskId: string, kind: 'base' | 'partial') => boolean): Promise<number> {
    const repo = await this.repo();
    const listed = await gitText(['for-each-ref', '--format=%(refname)', BASE_REF_PREFIX, PARTIAL_REF_PREFIX], { cwd: repo.topLevel });
    const doomed = listed
      .split('\n')
      .filter(Boolean)
      .filter((ref) => {
        const kind = ref.startsWith(BASE_REF_PREFIX) ? 'base' : 'partial';
        return !keep(ref.slice(kind === 'base' ? BASE_REF_PREFIX.length : PARTIAL_REF_PREFIX.length), kind);
      });
    if (doomed.length === 0) return 0;
    await runGit(['update-ref', '--stdin'], { cwd: repo.topLevel, input: doomed.map((ref) => `delete ${ref}\n`).join('') });
    return doomed.length;
  }

  /**
   * Slots of the folder used before worktrees moved out of the checkout (`.git/swarm/worktrees`):
   * work of a crashed attempt is kept on its partial ref, then the slot is removed. Returns the
   * worktrees whose removal was attempted.
   */
  private async removeLegacySlots(repo: RepoInfo, dir: string): Promise<string[]> {
    const legacy = legacyWorktreesDir(repo);
    if (samePath(legacy, dir) || !fs.existsSync(legacy)) return [];
    const attempted: string[] = [];
    const states = listSlotStates(legacy);
    for (const entry of (await this.registeredWorktrees()).filter((wt) => isUnder(legacy, wt.path))) {
      if (lockedElsewhere(`${entry.path}.lock`)) continue;
      const state = states.find((candidate) => samePath(candidate.path, entry.path));
      if (state?.taskId && state.phase === 'ready' && !isSlotBusy(state) && fs.existsSync(path.join(entry.path, '.git'))) await this.rescueCrashedAttempt(state);
      await this.removeWorktreeDir(entry.path);
      attempted.push(entry.path);
    }
    const inUse = fs.readdirSync(legacy).some((name) => name.endsWith('.lock') && lockedElsewhere(path.join(legacy, name)));
    if (!inUse) fs.rmSync(legacy, { recursive: true, force: true });
    return attempted;
  }

  // ------------------------------------------------------------------ internals

  /**
   * Two agent hosts on one repository (the editor's pool and a `swarm run`) both number their slots
   * s1, s2...: a lock file (`slot-<n>.lock`, created exclusively, holding the pid) marks a slot in
   * use from prepare to collect/abandon. A slot locked by another live process is never touched;
   * this process then gets a slot of its own. Locks of dead processes are taken over.
   */
  private claimSlot(dir: string, slot: string): string {
    const known = this.slotNames.get(slot);
    if (known && tryLock(lockFile(dir, known))) return known;
    const name = tryLock(lockFile(dir, slot)) ? slot : `${slot}-p${process.pid}`;
    if (name !== slot && !tryLock(lockFile(dir, name))) {
      throw new WorktreeError('environment', `Agent slot ${name} is locked by another process; remove ${lockFile(dir, name)} if no agent host is running.`);
    }
    this.slotNames.set(slot, name);
    return name;
  }

  private async startingPoint(task: Task, snapshot: string): Promise<{ start: string; base: string }> {
    const payload = task.payload as { fromScratch?: boolean; startFrom?: unknown } | null | undefined;
    if (this.options.resumePartialWork === false || payload?.fromScratch === true) return { start: snapshot, base: snapshot };
    const repo = await this.repo();
    if (!hasRef(repo.commonDir, `${PARTIAL_REF_PREFIX}${task.id}`)) return (await this.followUpStart(repo, task, payload?.startFrom)) ?? { start: snapshot, base: snapshot };
    const partial = await runGit(['rev-parse', '--verify', '-q', `${PARTIAL_REF_PREFIX}${task.id}^{commit}`], { cwd: repo.topLevel, okCodes: [1, 128] });
    if (partial.code !== 0) return { start: snapshot, base: snapshot };
    const start = partial.stdout.toString('utf8').trim();
    // The partial commit's parent is the snapshot its attempt started from: diffs stay against it.
    const base = await gitText(['rev-parse', `${start}^1`], { cwd: repo.topLevel });
    this.log(`task ${task.id}: resuming from saved partial work ${start.slice(0, 10)}`);
    return { start, base };
  }

  /**
   * A follow-up task ("request changes" on a result) starts from the earlier result: a commit whose
   * parent is the snapshot that result was made from, so the new patch covers both. A start commit
   * that is gone (garbage-collected) falls back to the fresh snapshot, with a log line.
   */
  private async followUpStart(repo: RepoInfo, task: Task, startFrom: unknown): Promise<{ start: string; base: string } | undefined> {
    if (typeof startFrom !== 'string' || !/^[0-9a-f]{40,64}$/.test(startFrom)) return undefined;
    const parent = await runGit(['rev-parse', '--verify', '-q', `${startFrom}^1`], { cwd: repo.topLevel, okCodes: [1, 128] });
    if (parent.code !== 0) {
      this.log(`task ${task.id}: the result it follows up (${startFrom.slice(0, 10)}) is gone; starting from your current files`);
      return undefined;
    }
    this.log(`task ${task.id}: starting from the result it follows up (${startFrom.slice(0, 10)})`);
    return { start: startFrom, base: parent.stdout.toString('utf8').trim() };
  }

  /**
   * Removes untracked files and, with -x, ignored leftovers such as build output, keeping included
   * dependencies (and, with a setup command, the ignored files the setup produced). A parked tree
   * keeps none (`keepIncludes` false): its links were removed when it was parked, so what is there
   * now an attempt made, and it would hide the workspace's own folder from the link.
   */
  private async cleanSlot(worktree: string, state: SlotState | undefined, keepIncludes = true): Promise<boolean> {
    try {
      const keep = keepIncludes ? (await this.includeFromTop()).flatMap((entry) => ['-e', `/${entry}`]) : [];
      const env = await this.slotGit(worktree, state);
      await runGit(['clean', '-ffdq', ...(this.options.setupCommand ? [] : ['-x']), ...keep], { cwd: worktree, env });
      return true;
    } catch (error) {
      this.log(`cleaning ${worktree} failed (${(error as Error).message.split('\n')[0]}); recreating it`);
      return false;
    }
  }

  /** Restores tracked files; also removes the previous attempt's new files, which collect/abandon staged. */
  private async resetWarm(worktree: string, state: SlotState, start: string): Promise<boolean> {
    try {
      await this.resetSlotTo(worktree, state, start);
      return true;
    } catch (error) {
      this.log(`warm reuse of ${worktree} failed (${(error as Error).message.split('\n')[0]}); recreating it`);
      return false;
    }
  }

  /**
   * `reset --hard` of a used slot (warm or parked) with the host's hardened git. The index came from
   * an earlier attempt (or a parked entry anyone with access to the cache could edit): an entry
   * marked skip-worktree is never rewritten by reset nor staged by collect, and one marked
   * assume-unchanged is trusted as is, so a file changed behind such a mark would reach the next
   * attempt. The marks are cleared first, and submodule folders emptied (see below).
   */
  private async resetSlotTo(worktree: string, state: SlotState, start: string): Promise<void> {
    const env = await this.slotGit(worktree, state, start);
    const entries = await clearIndexMarks(worktree, env);
    this.emptySubmoduleFolders(worktree, entries.filter((entry) => entry.mode === '160000').map((entry) => entry.file));
    await runGit(['reset', '-q', '--hard', start], { cwd: worktree, env });
  }

  /**
   * A fresh slot has its submodules' folders empty. An earlier attempt may have checked one out
   * (`git submodule update`): clean and reset never enter it, so its files, changed or not, would
   * reach the next attempt, and in a parked tree its `.git` file points into a pruned admin folder,
   * which makes every git command of the next attempt's collect fail. Emptied, as fresh, before
   * the reset (which then also removes the folders of submodules the new snapshot no longer has).
   */
  private emptySubmoduleFolders(worktree: string, submodules: string[]): void {
    if (submodules.length === 0) return;
    const top = fs.realpathSync(worktree);
    for (const submodule of submodules) {
      const folder = path.join(worktree, submodule);
      // Only a real folder inside the slot is emptied; a link there is removed, never followed.
      if (!fs.existsSync(path.dirname(folder)) || !isInside(fs.realpathSync(path.dirname(folder)), top)) continue;
      const stat = fs.lstatSync(folder, { throwIfNoEntry: false });
      if (stat && !stat.isDirectory()) fs.rmSync(folder, { force: true });
      if (!stat?.isDirectory()) continue;
      for (const name of fs.readdirSync(folder)) fs.rmSync(path.join(folder, name), { recursive: true, force: true });
    }
  }

  private async createCold(slot: string, worktree: string, stateFile: string, start: string, task: Task, signal?: AbortSignal): Promise<void> {
    await this.alongsideCreations(async () => {
      await this.registerSlot(slot, worktree, stateFile, start);
      // A parked tree from an earlier run needs only what differs rewritten; else every file is checked out.
      if (await this.adoptParkedTree(slot, worktree, stateFile, start)) return;
      await runGit(['reset', '-q', '--hard', start], { cwd: worktree });
    });
    signal?.throwIfAborted();
    const repo = await this.repo();
    const linked = this.linkIncludes(worktree, repo.prefix);
    const state = readSlotState(stateFile) as SlotState;
    if (this.options.setupCommand) await this.runSetup(worktree, this.options.setupCommand, task, this.sandboxPaths(repo, path.dirname(worktree), worktree, state), signal);
    writeSlotState(stateFile, { ...(readSlotState(stateFile) as SlotState), phase: 'ready', setupDone: true, linked });
  }

  /** Registers the slot's worktree at `start` without checking out any file. */
  private async registerSlot(slot: string, worktree: string, stateFile: string, start: string): Promise<void> {
    // Registering worktrees is one at a time: a `git worktree add` reads every other worktree's
    // admin folder and fails on one being written. Checking out the files, the slow part, is not.
    await this.registering(async () => {
      const dir = path.dirname(worktree);
      await this.makeRoomForSlot(dir, slot);
      const now = Date.now();
      // Recorded before any git work: a crash from here on leaves a `creating` record for prune.
      writeSlotState(stateFile, { slot, path: worktree, phase: 'creating', ownerPid: process.pid, setupDone: false, createdAt: now, lastUsed: now });
      await this.removeWorktreeDir(worktree);
      const repo = await this.repo();
      // Hooks off: a repository's post-checkout hook must not run in every agent slot.
      await runGit(['-c', 'core.hooksPath=/dev/null', 'worktree', 'add', '--force', '--detach', '--no-checkout', '--quiet', worktree, start], { cwd: repo.topLevel });
      // The admin folder git just made, recorded before any command runs in the slot.
      const gitDir = this.slotGitDir(worktree, repo, undefined);
      writeSlotState(stateFile, { ...(readSlotState(stateFile) as SlotState), gitDir });
    });
  }

  /**
   * Puts a parked tree (see parked.ts) in the just-registered slot and brings it to `start` the way
   * a warm slot is (clean, then reset with the host's hardened git). False when none is parked. A
   * failure half-way recreates the slot from scratch, so the caller checks it out as usual.
   */
  private async adoptParkedTree(slot: string, worktree: string, stateFile: string, start: string): Promise<boolean> {
    if (this.options.setupCommand) return false;
    const claimed = claimParked(path.dirname(worktree));
    if (!claimed) return false;
    const state = readSlotState(stateFile) as SlotState;
    try {
      await tracePhase('slot adopt', undefined, async () => {
        // As for any slot: nothing an earlier attempt left running may work in the tree it gets.
        await this.endLeftoversIn(claimed.tree);
        adoptParked(claimed, worktree, this.slotGitDir(worktree, await this.repo(), state));
        // Caught below (the slot is made afresh); only its message reaches the log.
        if (!(await this.cleanSlot(worktree, state, false))) throw new Error('cleaning it failed');
        await this.resetSlotTo(worktree, state, start);
      });
      return true;
    } catch (error) {
      fs.rmSync(claimed.dir, { recursive: true, force: true });
      this.log(`could not reuse a parked worktree for ${worktree} (${(error as Error).message.split('\n')[0]}); checking it out afresh`);
      await this.registerSlot(slot, worktree, stateFile, start);
      return false;
    }
  }

  /**
   * Symlinks included directories and copies included files that exist in the workspace but not in
   * the worktree (so never over a tracked file). Returns what it created, as paths from the top.
   */
  private linkIncludes(worktree: string, prefix: string): string[] {
    const created: string[] = [];
    for (const entry of this.include) {
      const source = path.join(this.workspaceRoot, entry);
      const target = path.join(worktree, prefix, entry);
      const sourceStat = fs.statSync(source, { throwIfNoEntry: false });
      if (!sourceStat || fs.lstatSync(target, { throwIfNoEntry: false })) continue;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (sourceStat.isDirectory()) fs.symlinkSync(source, target, 'dir');
      else fs.copyFileSync(source, target);
      created.push(prefix ? `${prefix}/${entry}` : entry);
    }
    return created;
  }

  /** Include entries as paths from the top of the repository (for clean and add pathspecs). */
  private async includeFromTop(): Promise<string[]> {
    const { prefix } = await this.repo();
    return this.include.map((entry) => (prefix ? `${prefix}/${entry}` : entry));
  }

  /**
   * The setup command runs like an attempt's commands: in its own process group (an abort ends
   * everything it started), inside the pool's sandbox when there is one, marked for the host's sweeps.
   */
  private async runSetup(worktree: string, command: string, task: Task, paths: SandboxPaths, signal?: AbortSignal): Promise<void> {
    const sandbox = this.sandbox ? createCommandSandbox(this.sandbox, { cwd: worktree, ...paths }) : undefined;
    const result = await runInProcessGroup({
      script: command,
      cwd: worktree,
      env: { ...process.env, ...this.commandEnv, SWARM_TASK_ID: task.id, SWARM_DIR: worktree },
      signal,
      sandbox,
      tailChars: 4_000,
    });
    // Not the user's to act on: the attempt was stopped (cancelled, its lease lost, another attempt
    // won) and the worker records why; this message only says where it stopped.
    if (result.aborted) throw new Error(`The worktree setup command \`${command}\` was stopped: the attempt was cancelled.`);
    if (result.exitCode === 0) return;
    const how = result.exitCode !== null ? `exit code ${result.exitCode}` : `signal ${result.exitSignal ?? 'unknown'}`;
    const output = result.tail.trim();
    throw new WorktreeError('config', `The worktree setup command \`${command}\` failed with ${how} in ${worktree}. Fix the command ("worktrees.setupCommand" in swarm.config.json) or remove it.${output ? `\n${output}` : ''}`);
  }

  private async savePartialWork(worktree: string, taskId: string, base: string, reason: string): Promise<string | undefined> {
    const stateFile = slotPaths(path.dirname(worktree), path.basename(worktree).replace(/^slot-/, '')).stateFile;
    const state = readSlotState(stateFile);
    const env = await this.slotGit(worktree, state, base);
    await clearIndexMarks(worktree, env);
    await stageEverything({ cwd: worktree, exclude: state?.linked, env });
    const tree = await gitText(['write-tree'], { cwd: worktree, env });
    const baseTree = await gitText(['rev-parse', `${base}^{tree}`], { cwd: worktree, env });
    if (tree === baseTree) return undefined;
    const commit = await gitText(['commit-tree', tree, '-p', base, '-m', `Agent Swarm partial work of task ${taskId}: ${reason}`], { cwd: worktree, env });
    await runGit(['update-ref', `${PARTIAL_REF_PREFIX}${taskId}`, commit], { cwd: worktree, env });
    return commit;
  }

  /** A slot whose owning process died mid-task: keep its work like abandon() would, then free it. */
  private async rescueCrashedAttempt(state: SlotState): Promise<void> {
    const stateFile = slotPaths(path.dirname(state.path), state.slot).stateFile;
    if (state.taskId && state.base) {
      try {
        await this.savePartialWork(state.path, state.taskId, state.base, 'the agent host stopped during the attempt');
      } catch (error) {
        this.log(`could not keep partial work of ${state.taskId}: ${(error as Error).message}`);
      }
    }
    writeSlotState(stateFile, { ...state, taskId: undefined, ownerPid: undefined });
  }

  private attemptEnded(slot: string): void {
    this.attemptsInFlight.delete(slot);
  }

  /**
   * One snapshot for a run instead of one per task (a snapshot is four git processes, `git add -u`
   * over every tracked file the slowest): a task that starts while others are still going shares
   * their snapshot, and so do tasks that start while it is being taken (the agents of a run start
   * at once: one snapshot, not one each). A task naming untracked files gets its own, so those
   * files are in it. Edits you make while tasks run reach the tasks that start once they are all
   * done (the next run).
   */
  private async runSnapshot(repo: RepoInfo, task: Task): Promise<string> {
    const given = this.options.startFrom?.(task);
    if (given !== undefined) return given;
    const untracked = await this.namesUntrackedFiles(repo, task);
    const current = this.attemptsInFlight.size > 0 || this.sharedSnapshotPending || Date.now() < this.warmSnapshotUntil ? this.sharedSnapshot : undefined;
    if (current && !untracked) {
      try {
        return await current;
      } catch {
        // The shared one failed: this task takes its own below.
      }
    }
    // No untracked file named: no second look for them in the snapshot.
    const own = snapshotWorkingState(repo, { untracked: untracked ? task.files : [], message: 'Agent Swarm snapshot of your working state' });
    if (!untracked) {
      this.sharedSnapshot = own;
      this.sharedSnapshotPending = true;
      const taken = (): void => {
        if (this.sharedSnapshot === own) this.sharedSnapshotPending = false;
      };
      own.then(taken, taken);
    }
    return await own;
  }

  /** Whether the task names a file that exists and git does not track (it goes into the snapshot). */
  private async namesUntrackedFiles(repo: RepoInfo, task: Task): Promise<boolean> {
    const named = task.files.map((file) => (repo.prefix ? `${repo.prefix}/${file}` : file)).filter((file) => fs.existsSync(path.join(repo.topLevel, file)));
    if (named.length === 0) return false;
    const listed = await runGit(['ls-files', '-z', '--others', '--exclude-standard', '--', ...named], { cwd: repo.topLevel, okCodes: [128] });
    return listed.code !== 0 || listed.stdout.length > 0;
  }

  private releaseSlot(stateFile: string): void {
    const state = readSlotState(stateFile);
    if (state) writeSlotState(stateFile, { ...state, taskId: undefined, ownerPid: undefined, lastUsed: Date.now() });
    fs.rmSync(stateFile.replace(/\.json$/, '.lock'), { force: true });
  }

  /** Above the slot cap, removes the least recently used idle slot. */
  private async makeRoomForSlot(dir: string, slot: string): Promise<void> {
    const others = listSlotStates(dir).filter((state) => state.slot !== slot);
    if (others.length < this.maxSlots) return;
    const idle = others.filter((state) => !isSlotBusy(state)).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const state of idle.slice(0, others.length - this.maxSlots + 1)) await this.removeSlot(state);
  }

  private async enforceDiskBudget(currentSlot: string): Promise<void> {
    if (Date.now() - this.lastDiskCheck < 30_000) return;
    this.lastDiskCheck = Date.now();
    const dir = await this.worktreesDir();
    let total = await diskUsage(dir);
    if (total <= this.diskBudgetBytes) return;
    // Parked trees go first: they only save the next run some time.
    if (removeParked(dir, { all: true }) > 0) total = await diskUsage(dir);
    if (total <= this.diskBudgetBytes) return;
    const idle = listSlotStates(dir)
      .filter((state) => state.slot !== currentSlot && !isSlotBusy(state))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const state of idle) {
      if (total <= this.diskBudgetBytes) break;
      const size = await diskUsage(state.path);
      await this.admin(() => this.removeSlot(state));
      total -= size;
      this.log(`disk budget: removed least recently used worktree ${state.path}`);
    }
  }

  private async removeSlot(state: SlotState): Promise<void> {
    await this.removeWorktreeDir(state.path);
    fs.rmSync(slotPaths(path.dirname(state.path), state.slot).stateFile, { force: true });
    await runGit(['worktree', 'prune'], { cwd: (await this.repo()).topLevel });
  }

  private async removeWorktreeDir(worktree: string): Promise<void> {
    const repo = await this.repo();
    // The caller holds this slot: a registration a killed `git worktree add` left for it goes first.
    removeHalfRegistrations(repo.commonDir, path.dirname(worktree), () => false, worktree);
    const removal = await runGit(['worktree', 'remove', '--force', '--force', worktree], { cwd: repo.topLevel, okCodes: [1, 128] });
    fs.rmSync(worktree, { recursive: true, force: true });
    // git refuses to remove a worktree whose folder lost its .git file, and `worktree prune` keeps
    // locked registrations: unlock it, then prune (the folder is gone, so prune drops it).
    if (removal.code !== 0 && (await this.isRegistered(worktree))) {
      await runGit(['worktree', 'unlock', worktree], { cwd: repo.topLevel, okCodes: [1, 128] });
      await runGit(['worktree', 'prune'], { cwd: repo.topLevel });
    }
  }

  private async isRegistered(worktree: string): Promise<boolean> {
    return (await this.registeredWorktrees()).some((entry) => samePath(entry.path, worktree));
  }

  /** Directories and state files in the worktrees folder that git does not know: leftovers. */
  private removeUnregistered(dir: string, registered: string[]): number {
    if (!fs.existsSync(dir)) return 0;
    let removed = 0;
    // Lock files last: whether a lock is stale depends on the slot folders and state files removed before it.
    const names = fs.readdirSync(dir).sort((a, b) => Number(a.endsWith('.lock')) - Number(b.endsWith('.lock')));
    for (const name of names) {
      if (name === REPOSITORY_MARK || (name === PARKED_DIR && fs.lstatSync(path.join(dir, name)).isDirectory())) continue;
      const full = path.join(dir, name);
      if (lockedElsewhere(path.join(dir, `${name.replace(/\.(json|lock)$/, '')}.lock`))) continue;
      if (name.endsWith('.lock')) {
        const owner = lockOwner(full);
        const slotGone = !fs.existsSync(full.replace(/\.lock$/, '')) && !fs.existsSync(full.replace(/\.lock$/, '.json'));
        if (owner !== 'fresh' && (!isProcessAlive(owner) || slotGone)) fs.rmSync(full, { force: true });
        continue;
      }
      if (name.endsWith('.json')) {
        const state = readSlotState(full);
        const live = state && registered.some((wt) => samePath(wt, state.path)) && state.phase === 'ready';
        if (!live && !(state && state.phase === 'creating' && isProcessAlive(state.ownerPid) && state.ownerPid !== process.pid)) fs.rmSync(full, { force: true });
        continue;
      }
      if (registered.some((wt) => samePath(wt, full))) continue;
      fs.rmSync(full, { recursive: true, force: true });
      removed += 1;
    }
    return removed;
  }

  private async registeredWorktrees(): Promise<Array<{ path: string; head: string; branch?: string }>> {
    const repo = await this.repo();
    const text = await gitText(['worktree', 'list', '--porcelain'], { cwd: repo.topLevel });
    return text
      .split('\n\n')
      .filter(Boolean)
      .map((block) => {
        const lines = block.split('\n');
        const value = (key: string) => lines.find((line) => line.startsWith(`${key} `))?.slice(key.length + 1);
        return { path: value('worktree') ?? '', head: value('HEAD') ?? '', branch: value('branch') };
      });
  }

  private admin<T>(work: () => Promise<T>): Promise<T> {
    const exclusive = async () => {
      await Promise.all([...this.creating]);
      return work();
    };
    const next = this.adminChain.then(exclusive, exclusive);
    this.adminChain = next.catch(() => undefined);
    return next;
  }

  private registering<T>(work: () => Promise<T>): Promise<T> {
    const next = this.registrationChain.then(work, work);
    this.registrationChain = next.catch(() => undefined);
    return next;
  }

  private alongsideCreations<T>(work: () => Promise<T>): Promise<T> {
    const run = this.adminChain.then(work, work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.creating.add(settled);
    void settled.then(() => this.creating.delete(settled));
    return run;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

/**
 * Removes a worktrees folder that holds nothing but its repository mark. Another process may have
 * removed it already (a prune, a cleared cache), or may be making a slot in it right now: the
 * folder itself goes with a non-recursive rmdir, so a slot made meanwhile keeps it (only the mark
 * is lost, and a missing mark just means the folder is never swept as forgotten).
 */
function removeIfOnlyMarked(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!names.every((name) => name === REPOSITORY_MARK)) return;
  fs.rmSync(path.join(dir, REPOSITORY_MARK), { force: true });
  try {
    fs.rmdirSync(dir);
  } catch (error) {
    if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
}

function isUnder(dir: string, candidate: string): boolean {
  const relative = path.relative(realish(dir), realish(candidate));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function samePath(a: string, b: string): boolean {
  return realish(a) === realish(b);
}

/** realpath when the path exists (git reports resolved paths), else the resolved path. */
function realish(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(realish(parent), path.basename(p));
  }
}

function lockFile(dir: string, slotName: string): string {
  return slotPaths(dir, slotName).stateFile.replace(/\.json$/, '.lock');
}

/** A slot that another live process is using (or has just locked): prune leaves it alone. */
/**
 * Clears the skip-worktree and assume-unchanged marks of a slot's index (an attempt can set them):
 * behind them git neither rewrites nor stages a changed file. Returns the index's entries.
 */
async function clearIndexMarks(worktree: string, env: Record<string, string>): Promise<Array<{ tag: string; mode: string; file: string }>> {
  // One listing of the index: "<tag> <mode> <object> <stage>\t<path>".
  const entries = (await runGit(['ls-files', '-s', '-v', '-z'], { cwd: worktree, env })).stdout
    .toString('utf8')
    .split('\0')
    .filter(Boolean)
    .map((line) => ({ tag: line[0], mode: line.slice(2, 8), file: line.slice(line.indexOf('\t') + 1) }));
  const skipped = entries.filter((entry) => entry.tag === 'S' || entry.tag === 's').map((entry) => entry.file);
  const assumed = entries.filter((entry) => entry.tag !== entry.tag.toUpperCase()).map((entry) => entry.file);
  // One mark per update-index call: given both options, git applies only the last.
  if (skipped.length > 0) await runGit(['update-index', '--no-skip-worktree', '-z', '--stdin'], { cwd: worktree, env, input: skipped.map((file) => `${file}\0`).join('') });
  if (assumed.length > 0) await runGit(['update-index', '--no-assume-unchanged', '-z', '--stdin'], { cwd: worktree, env, input: assumed.map((file) => `${file}\0`).join('') });
  return entries;
}

function lockedElsewhere(file: string): boolean {
  const owner = lockOwner(file);
  return owner === 'fresh' || (owner !== undefined && owner !== process.pid && isProcessAlive(owner));
}

/** The pid in a lock file; 'fresh' for a just-created file whose pid is not written yet. */
function lockOwner(file: string): number | 'fresh' | undefined {
  try {
    const owner = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (!Number.isNaN(owner)) return owner;
    return Date.now() - fs.statSync(file).mtimeMs < 2_000 ? 'fresh' : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the slot lock for this process: free, already ours, or left by a dead process. */
function tryLock(file: string): boolean {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = lockOwner(file);
      if (owner === process.pid) return true;
      if (owner === 'fresh' || isProcessAlive(owner)) return false;
      // A dead owner (or a torn write): remove and retry; a racing process may win, then we retry once more.
      fs.rmSync(file, { force: true });
    }
  }
  return false;
}

/** `.worktreeinclude` at the workspace root: one workspace-relative path per line, `#` comments. */
export function readWorktreeIncludeFile(workspaceRoot: string): string[] {
  const file = path.join(workspaceRoot, '.worktreeinclude');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.length > 0 && !line.split('/').includes('..') && !path.isAbsolute(line));
}

/** Temporary indexes of snapshots and applies interrupted by a crash (live ones are seconds old). */
function removeStaleTempFiles(dir: string): void {
  if (!fs.existsSync(dir)) return;
  const cutoff = Date.now() - 10 * 60_000;
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = fs.statSync(full, { throwIfNoEntry: false });
    if (stat && stat.mtimeMs < cutoff) fs.rmSync(full, { force: true, recursive: true });
  }
}

/** Whether a ref exists, from the file system (loose or packed), to save a git spawn on the hot path. */
function hasRef(commonDir: string, ref: string): boolean {
  if (fs.existsSync(path.join(commonDir, ref))) return true;
  const packed = path.join(commonDir, 'packed-refs');
  return fs.existsSync(packed) && fs.readFileSync(packed, 'utf8').includes(` ${ref}\n`);
}

function diskUsage(target: string): Promise<number> {
  return new Promise((resolve) => {
    if (!fs.existsSync(target)) return resolve(0);
    const child = spawn('du', ['-sk', target], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', () => resolve(0));
    child.on('close', () => resolve((Number.parseInt(out, 10) || 0) * 1024));
  });
}
