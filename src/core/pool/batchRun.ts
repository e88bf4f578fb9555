// One run of a batch (see batch.ts): the command runs once, in one workspace, over the files of
// every task of the batch; verify runs once; the collected patch is split by path and each task
// completes with its own patch. Each task keeps its own lease: losing one stops the command, and the
// others go back to the board uncounted. A failed command fails every task once, with the batch
// named; their retries run alone.
import * as fs from 'fs';
import * as path from 'path';
import { LOG_ARTIFACT } from '../board/interface';
import { LeaseLostError, type Claim, type Task } from '../board/types';
import { classifyError, ExecutorError, type ExecutionResult } from '../executors';
import type { CommandSandbox } from '../sandbox/launcher';
import { CannotServeTaskError } from '../remote/errors';
import { recordPhase, tracePhase } from '../trace';
import { batchTask, describeBatch, splitPatch, type SplitPatch } from './batch';
import { localBoardFolder } from './boardAccess';
import type { CollectedChanges, PreparedWorkspace } from './isolation';
import type { TaskEnded } from './protocol';
import { CappedLog, LogUpload } from './taskLog';
import { artifactFields, DEFAULT_MAX_LOG_BYTES, type CurrentAttempt, type TaskResult, type WorkerOptions } from './workerTypes';

/** What a batch needs of its agent's worker (AgentWorker.batchHost). */
export interface BatchHost {
  options: WorkerOptions;
  /** The batch's tasks become the agent's running attempts (undefined: the batch ended). */
  enter(members: CurrentAttempt[] | undefined): void;
  keepLease(member: CurrentAttempt): () => void;
  scratchFor(taskId: string): string;
  sandboxFor(prepared: PreparedWorkspace): CommandSandbox | undefined;
  storePatch(task: Task, changes: CollectedChanges, stored: TaskResult): Promise<void>;
  assertLeaseHeld(member: CurrentAttempt): void;
  endFailed(member: CurrentAttempt, error: unknown, startedAt: number): Promise<TaskEnded>;
  served(): void;
}

interface Member extends CurrentAttempt {
  stopLease: () => void;
  upload: LogUpload;
}

/** Runs the batch of `claims` to its end: every task is completed, failed or handed back. */
export async function runBatch(host: BatchHost, claims: Claim[], leaseHeldUntil: number): Promise<void> {
  const { options } = host;
  const tasks = claims.map((claim) => claim.task);
  const startedAt = Date.now();
  const command = new AbortController();
  const scratch = host.scratchFor(tasks[0].id);
  const log = new CappedLog(path.join(scratch, LOG_ARTIFACT), options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
  const members = claims.map((claim, index) => startMember(host, claim, leaseHeldUntil, command, log, startedAt, index === 0));
  host.enter(members);
  log.write(`[batch] one command for ${describeBatch(tasks)}\n`);
  // The board's log names the batch from each task's start (its claim came before the batch formed).
  await options.board.noteBatch(claims).catch((error: unknown) => log.write(`[batch] the board's event log does not name this batch: ${classifyError(error).message}\n`));
  let ended: TaskEnded[];
  try {
    const ran = await tracePhase('batch', tasks[0].id, () => runCommand(host, tasks, scratch, command.signal, log));
    ended = await completeEach(host, members, ran, log, startedAt);
  } catch (error) {
    members.forEach((member) => member.stopLease());
    ended = await failEach(host, members, error, startedAt);
  } finally {
    members.forEach((member) => {
      member.stopLease();
      member.upload.stop();
    });
    host.enter(undefined);
    for (const task of tasks) fs.rmSync(path.join(path.dirname(scratch), task.id), { recursive: true, force: true });
  }
  recordPhase('task', Date.now() - startedAt, tasks[0].id);
  const batch = tasks.map((task) => task.id);
  for (const entry of ended) options.report({ type: 'task-ended', ...entry, batch });
}

/** A task of the batch starts: reported, its lease renewed, its log stored as it grows; losing it stops the command. */
function startMember(host: BatchHost, claim: Claim, leaseHeldUntil: number, command: AbortController, log: CappedLog, startedAt: number, first: boolean): Member {
  const { options } = host;
  const controller = new AbortController();
  controller.signal.addEventListener('abort', () => command.abort(controller.signal.reason), { once: true });
  const attempt: CurrentAttempt = { claim, controller, leaseHeldUntil };
  const task = claim.task;
  options.report({ type: 'task-started', taskId: task.id, title: task.title, attempt: task.attempts, token: claim.token, startedAt });
  // The log grows on the first task's record; the others get the whole of it at the end (one upload each, not one per period).
  const upload = new LogUpload(options.board, task.id, log, first ? (options.logUploadMs ?? 2_000) : undefined);
  return Object.assign(attempt, { stopLease: host.keepLease(attempt), upload });
}

interface BatchRan {
  result: ExecutionResult;
  changes: CollectedChanges;
  /** The whole patch, read before it is split. */
  patch: Buffer;
  /** The agent's scratch folder; each task's part of the patch goes to its own folder in it. */
  scratchRoot: string;
}

/**
 * Prepare, execute (with verify) and collect, once for the union of the files. A failure keeps the
 * partial work on a ref of the batch, not of its first task: that task's retry runs alone and must
 * not start from the other tasks' changes.
 */
async function runCommand(host: BatchHost, tasks: Task[], scratch: string, signal: AbortSignal, log: CappedLog): Promise<BatchRan> {
  const { isolation, executor, slot, board, env, limiter, hostModels } = host.options;
  const task = batchTask(tasks);
  const prepared = await tracePhase('prepare', task.id, () => isolation.prepare(task, slot, scratch, signal));
  try {
    const sandbox = host.sandboxFor(prepared);
    // $SWARM_TASK_ID is the first task's alone; a script behind the command reads every id here.
    const batchEnv = { ...env, SWARM_TASK_IDS: tasks.map((each) => each.id).join(' ') };
    const context = { task, cwd: prepared.cwd, boardRoot: localBoardFolder(board), signal, log: (chunk: string) => log.write(chunk), env: batchEnv, limiter, hostModels, sandbox };
    const result = await tracePhase('execute', task.id, () => executor.execute(context));
    signal.throwIfAborted();
    const changes = await tracePhase('collect', task.id, () => isolation.collect(task, slot, prepared, scratch));
    return { result, changes, patch: changes.patchFile ? fs.readFileSync(changes.patchFile) : Buffer.alloc(0), scratchRoot: path.dirname(scratch) };
  } catch (error) {
    await isolation.abandon({ ...task, id: `${task.id}-batch` }, slot, prepared, classifyError(error).message).catch(() => undefined);
    throw error;
  }
}

/** The other tasks with changes keep the base reachable too (collect kept it for the first). */
async function keepBaseForOthers(host: BatchHost, tasks: Task[], split: SplitPatch, base: string | undefined, log: CappedLog): Promise<void> {
  const others = tasks.slice(1).filter((task) => (split.patches.get(task.id)?.length ?? 0) > 0).map((task) => task.id);
  if (base === undefined || others.length === 0) return;
  try {
    await host.options.isolation.keepBase?.(others, base);
  } catch (error) {
    // Their patches are stored all the same; only a three-way apply after a gc would miss the base.
    log.write(`[batch] could not keep the base ${base.slice(0, 10)} for tasks ${others.join(', ')}: ${classifyError(error).message}\n`);
  }
}

/** Each task completes with its own part of the patch; one whose lease is gone records nothing. */
async function completeEach(host: BatchHost, members: Member[], ran: BatchRan, log: CappedLog, startedAt: number): Promise<TaskEnded[]> {
  const tasks = members.map((member) => member.claim.task);
  const split = splitPatch(ran.patch, tasks);
  if (split.strays.length > 0) log.write(`[batch] changed files that no task of the batch names went to task ${tasks[0].id}: ${split.strays.join(', ')}\n`);
  await keepBaseForOthers(host, tasks, split, ran.changes.base, log);
  const warnings = ran.changes.warnings ?? [];
  if (warnings.length > 0) log.write(`\n${warnings.map((warning) => `warning: ${warning}`).join('\n')}\n`);
  const ended: TaskEnded[] = [];
  for (const member of members) {
    try {
      const id = member.claim.task.id;
      ended.push(await completeOne(host, member, ran, { bytes: split.patches.get(id) ?? Buffer.alloc(0), paths: split.paths.get(id) ?? [] }, tasks, startedAt));
    } catch (error) {
      member.stopLease();
      await member.upload.finish();
      ended.push(await host.endFailed(member, error, startedAt));
    }
  }
  return ended;
}

async function completeOne(host: BatchHost, member: Member, ran: BatchRan, patch: MemberPatch, tasks: Task[], startedAt: number): Promise<TaskEnded> {
  const { board } = host.options;
  const task = member.claim.task;
  const changes = memberChanges(ran.scratchRoot, task, ran.changes, patch);
  const durationMs = Date.now() - startedAt;
  const summary = `${ran.result.summary}\nRan in one command with ${describeBatch(tasks)}.`;
  const stored: TaskResult = { summary, executor: host.options.executor.name, durationMs, files: changes.files, batch: tasks.map((each) => each.id) };
  await host.storePatch(task, changes, stored);
  if (await member.upload.finish()) Object.assign(stored, artifactFields(board, task.id, LOG_ARTIFACT, 'logArtifact', 'logFile'));
  if (changes.base) stored.base = changes.base;
  if (changes.warnings && changes.warnings.length > 0) stored.warnings = changes.warnings;
  host.assertLeaseHeld(member);
  member.stopLease();
  await tracePhase('complete', task.id, () => board.complete(member.claim, stored));
  host.served();
  return { taskId: task.id, outcome: 'done', durationMs, summary, ...(stored.warnings && { warnings: stored.warnings }) };
}

interface MemberPatch {
  bytes: Buffer;
  paths: string[];
}

/** One task's share of the batch's changes: its patch (in its own scratch folder) and its files. */
function memberChanges(scratchRoot: string, task: Task, all: CollectedChanges, patch: MemberPatch): CollectedChanges {
  const paths = new Set(patch.paths);
  const changes: CollectedChanges = { files: all.files.filter((file) => paths.has(file.path)) };
  if (all.base) changes.base = all.base;
  if (all.warnings) changes.warnings = all.warnings;
  if (patch.bytes.length === 0) return changes;
  const dir = path.join(scratchRoot, task.id);
  fs.mkdirSync(dir, { recursive: true });
  changes.patchFile = path.join(dir, 'result.patch');
  fs.writeFileSync(changes.patchFile, patch.bytes);
  return changes;
}

/**
 * The batch failed. A task whose own lease ended (cancelled, lost, the agent stopping) ends the way
 * a task alone would; when one did, the command was stopped for it and the others go back to the
 * board uncounted. Otherwise the command or verify failed: every task fails this attempt, named as
 * part of the batch, and retries alone.
 */
async function failEach(host: BatchHost, members: Member[], error: unknown, startedAt: number): Promise<TaskEnded[]> {
  const tasks = members.map((member) => member.claim.task);
  const interrupted = members.find((member) => member.interruption !== undefined);
  const ended: TaskEnded[] = [];
  for (const member of members) {
    await member.upload.finish();
    if (member.interruption !== undefined || error instanceof CannotServeTaskError) ended.push(await host.endFailed(member, error, startedAt));
    else if (interrupted) ended.push(await releaseForSibling(host, member, interrupted, startedAt));
    else ended.push(await host.endFailed(member, batchFailure(error, member.claim.task, tasks), startedAt));
  }
  return ended;
}

/** Hands a task back because another task of its batch stopped the command; the attempt does not count. */
async function releaseForSibling(host: BatchHost, member: Member, stopped: Member, startedAt: number): Promise<TaskEnded> {
  const task = member.claim.task;
  const why = `task ${stopped.claim.task.id} of its batch was ${stopped.interruption === 'cancelled' ? 'cancelled' : 'stopped'}, which stopped the command`;
  const base = { taskId: task.id, durationMs: Date.now() - startedAt };
  try {
    await host.options.board.release(member.claim, why);
    return { ...base, outcome: 'released', message: `Handed back: ${why}.` };
  } catch (error) {
    if (error instanceof LeaseLostError) return { ...base, outcome: 'lost', message: error.message };
    throw error;
  }
}

/**
 * The failure each task of a failed batch records: the batch named, never permanent (the bad file
 * may be another task's; the retry alone tells), a rate limit kept with its time.
 */
export function batchFailure(error: unknown, task: Task, tasks: readonly Task[]): ExecutorError {
  const failure = classifyError(error);
  const others = tasks.filter((each) => each.id !== task.id).map((each) => each.id);
  const message = `Ran in a batch of ${tasks.length} with tasks ${others.join(', ')}: ${failure.message}\nThe task runs alone when it is retried.`;
  return new ExecutorError(failure.kind === 'permanent' ? 'transient' : failure.kind, message, { retryAt: failure.retryAt });
}
