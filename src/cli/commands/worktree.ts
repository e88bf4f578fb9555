// Review and apply commands: `swarm diff`, `apply`, `undo`, `discard`, `conflicts`, `worktrees`.
import { Command } from 'commander';
import { FileBoard, listAllTasks, type Board } from '../../core/board';
import { findGitRepository } from '../../core/board/gitExclude';
import { workspaceOfBoard } from '../../core/board/location';
import type { Task } from '../../core/board/types';
import {
  applyRecord,
  applyPendingResults,
  applyTaskPatches,
  discardTaskPatch,
  findPatchConflicts,
  isDiscarded,
  pendingResults,
  readPartialWork,
  readTaskPatch,
  tasksWithPartialWork,
  undoTaskApply,
  type ApplyOutcome,
  type BatchOutcome,
  type PatchFileEntry,
  type ResultPlace,
  type TaskPatch,
} from '../../core/patch';
import { loadSwarmConfig } from '../../core/config';
import { worktreeSettingsFrom } from '../../core/config/resolve';
import { listParkedWorktrees, listWorktrees, pruneSwarmRefs, pruneWorktrees, worktreesDiskUsage } from '../../core/worktree';
import { SwarmUserError } from '../../core/errors';
import { EXIT_FAILURE, ExitError, UsageError, invalidConfigFile } from '../errors';
import { pruneSharedTransport } from '../../core/remote/cleanup';
import { isSharedBoard, isSnapshotId } from '../../core/remote/post';
import { formatBytes } from '../../core/format';
import { escapeTerminal, formatDuration, printJson, printText } from '../format';

const COLOURS = { red: '\x1b[31m', green: '\x1b[32m', cyan: '\x1b[36m', bold: '\x1b[1m', reset: '\x1b[0m' };

function useColour(flag: boolean | undefined): boolean {
  if (flag === false || process.env.NO_COLOR) return false;
  return process.stdout.isTTY === true || process.env.FORCE_COLOR !== undefined;
}

/**
 * A patch for a person (a terminal, or colour asked for): its content lines are escaped, since a
 * result can carry control sequences or bidi overrides that would rewrite what the reviewer sees.
 * Piped elsewhere it stays byte for byte, so `swarm diff ID > fix.patch` still applies.
 */
function patchForOutput(text: string, colour: boolean): string {
  if (!colour && process.stdout.isTTY !== true) return text;
  const safe = escapeTerminal(text, { multiline: true });
  return colour ? colourPatch(safe) : safe;
}

export function colourPatch(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('diff --git') || line.startsWith('+++') || line.startsWith('---')) return `${COLOURS.bold}${line}${COLOURS.reset}`;
      if (line.startsWith('@@')) return `${COLOURS.cyan}${line}${COLOURS.reset}`;
      if (line.startsWith('+')) return `${COLOURS.green}${line}${COLOURS.reset}`;
      if (line.startsWith('-')) return `${COLOURS.red}${line}${COLOURS.reset}`;
      return line;
    })
    .join('\n');
}

export function formatFileStats(files: PatchFileEntry[]): string {
  if (files.length === 0) return 'No changes.';
  const width = Math.min(60, Math.max(...files.map((file) => displayName(file).length)));
  const rows = files.map((file) => {
    const change = file.binary ? 'binary' : `+${file.additions} -${file.deletions}`;
    return ` ${displayName(file).padEnd(width)} | ${file.status.padEnd(8)} ${change}`;
  });
  const additions = files.reduce((sum, file) => sum + file.additions, 0);
  const deletions = files.reduce((sum, file) => sum + file.deletions, 0);
  return [...rows, ` ${files.length} file${files.length === 1 ? '' : 's'} changed, ${additions} insertion${additions === 1 ? '' : 's'}(+), ${deletions} deletion${deletions === 1 ? '' : 's'}(-)`].join('\n');
}

function displayName(file: PatchFileEntry): string {
  return escapeTerminal(file.from ? `${file.from} => ${file.path}` : file.path);
}

/**
 * The result of a task, or with `partial` the work kept for one that did not finish; otherwise a
 * message that says what there is instead (partial work to look at, or nothing).
 */
async function requirePatch(place: ResultPlace, id: string, partial = false): Promise<TaskPatch> {
  const task = await place.board.get(id);
  if (!task) throw new ExitError(EXIT_FAILURE, `No task with id ${id}. List tasks with \`swarm list\`.`);
  const root = place.workspaceRoot;
  if (partial) {
    if (task.status === 'done') throw new ExitError(EXIT_FAILURE, `Task ${id} is done: its result is shown and applied without --partial.`);
    const work = findGitRepository(root) ? await readPartialWork(root, id) : undefined;
    if (!work) throw new ExitError(EXIT_FAILURE, `Task ${id} is ${task.status} and no partial work of it was kept (refs/swarm/${id}); there is nothing to show.`);
    return work;
  }
  const patch = await readTaskPatch(place, id);
  if (patch) return patch;
  if (task.status === 'done' || task.childCount) throw new ExitError(EXIT_FAILURE, `Task ${id} has no patch: it made no changes (or its artifacts were removed).`);
  const why = `it is ${task.status}${task.lastError ? ` (${firstLine(task.lastError.message)})` : ''}`;
  const kept = findGitRepository(root) !== undefined && (await tasksWithPartialWork(root)).has(id);
  if (!kept) throw new ExitError(EXIT_FAILURE, `Task ${id} has no patch: ${why}, and no partial work of it was kept.`);
  throw new ExitError(EXIT_FAILURE, `Task ${id} has no result: ${why}. Its partial work is kept: see it with \`swarm diff ${id} --partial\`, apply it with \`swarm apply ${id} --partial\`.`);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** Dead tasks, which --all-done does not apply: how many, why, and which have partial work kept. */
async function deadTasks(place: ResultPlace): Promise<Array<{ task: Task; partialWork: boolean }>> {
  const dead = (await listAllTasks(place.board, 'dead')).filter((task) => !task.childCount && !isDiscarded(place, task.id) && !applyRecord(place, task.id));
  if (dead.length === 0) return [];
  const root = place.workspaceRoot;
  const kept = findGitRepository(root) ? await tasksWithPartialWork(root) : new Set<string>();
  return dead.map((task) => ({ task, partialWork: kept.has(task.id) }));
}

const DEAD_SHOWN = 10;

function printDead(dead: Array<{ task: Task; partialWork: boolean }>): void {
  if (dead.length === 0) return;
  printText(`${dead.length} task${dead.length === 1 ? ' is' : 's are'} dead and not applied (all of them: \`swarm dlq list\`; try again: \`swarm dlq requeue <id>\`):`);
  for (const { task, partialWork } of dead.slice(0, DEAD_SHOWN)) {
    const why = task.lastError ? firstLine(task.lastError.message) : 'no error recorded';
    const work = partialWork ? ` — partial work kept: \`swarm diff ${task.id} --partial\`` : '';
    printText(`  ${escapeTerminal(task.id)}  ${escapeTerminal(task.title)}: ${escapeTerminal(why)}${work}`);
  }
  if (dead.length > DEAD_SHOWN) printText(`  … and ${dead.length - DEAD_SHOWN} more`);
}

function printOutcome(outcome: ApplyOutcome, json: boolean | undefined): void {
  if (json) return printJson(outcome);
  printText(outcome.message);
  outcome.conflicts.forEach((file, index) => printText(`  conflict: ${escapeTerminal(file)}${outcome.conflictReasons?.[index] ? ` — ${escapeTerminal(outcome.conflictReasons[index])}` : ''}`));
}

/**
 * Core errors are messages for the user, not crashes: one line on stderr without a stack trace.
 * A SwarmUserError keeps its kind (main picks the exit code: 2 for input or configuration to fix, 1
 * for a refused action or the machine); any other error exits 1.
 */
function userFacing<A extends unknown[]>(action: (...args: A) => unknown): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      if (error instanceof ExitError || error instanceof SwarmUserError || !(error instanceof Error)) throw error;
      throw new ExitError(EXIT_FAILURE, error.message);
    }
  };
}

export function registerWorktreeCommands(program: Command, openBoard: () => Promise<Board>): void {
  // Results are read through the board (patches are board artifacts, so a Redis board works too);
  // apply records stay local. The workspace is the folder holding a file board, else this folder's
  // repository (or this folder).
  const openPlace = async (): Promise<ResultPlace> => {
    const board = await openBoard();
    return { board, workspaceRoot: board instanceof FileBoard ? workspaceOfBoard(board.root) : workspaceHere() };
  };

  program
    .command('diff')
    .description("print a task's result as a patch (coloured on a terminal); a map task shows its children combined")
    .argument('<id>', 'task id')
    .option('--stat', 'changed files with line counts instead of the patch')
    .option('--no-color', 'never colour the output')
    .option('--partial', 'the work kept for a task that did not finish (dead, cancelled, retrying) instead of a result')
    .option('--json', 'print JSON only')
    .action(userFacing(async (id: string, options: { stat?: boolean; color?: boolean; partial?: boolean; json?: boolean }) => {
      const place = await openPlace();
      const patch = await requirePatch(place, id, options.partial);
      if (options.json) return printJson({ taskId: patch.taskId, patchFile: patch.patchFile, ...(patch.artifact ? { artifact: patch.artifact } : {}), base: patch.base, files: patch.files, ...(options.partial ? { partial: true } : {}), discarded: isDiscarded(place, id), applied: applyRecord(place, id) ?? null, ...(options.stat ? {} : { text: patch.text }) });
      if (options.stat) return printText(formatFileStats(patch.files));
      process.stdout.write(patchForOutput(patch.text, useColour(options.color)));
    }));

  program
    .command('apply')
    .description("apply a task's result to your working tree: clean, else three-way; exit 1 on conflict (nothing written)")
    .argument('[id]', 'task id (or use --all-done)')
    .option('--3way', 'allow a three-way merge when your files changed since the snapshot (the default)')
    .option('--clean-only', 'refuse instead of merging when your files changed since the snapshot')
    .option('--markers', 'on conflict, write the merge with conflict markers instead of refusing')
    .option('--all-done', 'apply every done result not yet applied or discarded, oldest first; says which tasks are dead')
    .option('--partial', 'apply the work kept for a task that did not finish (dead, cancelled, retrying)')
    .option('--json', 'print JSON only')
    .action(userFacing(async (id: string | undefined, options: { '3way'?: boolean; cleanOnly?: boolean; markers?: boolean; allDone?: boolean; partial?: boolean; json?: boolean }) => {
      const place = await openPlace();
      const mode = options.markers ? 'markers' : options.cleanOnly ? 'clean' : 'auto';
      if (options.allDone && (id || options.partial)) throw new UsageError('--all-done applies every done result: give no task id and no --partial with it.');
      if (!options.allDone && !id) throw new ExitError(EXIT_FAILURE, 'Give a task id, or --all-done.');
      if (!options.allDone) {
        await requirePatch(place, id as string, options.partial);
        const [result] = await applyTaskPatches({ ...place, taskIds: [id as string], mode, partial: options.partial });
        if ('error' in result) throw result.error;
        printOutcome(result.outcome, options.json);
        if (result.outcome.status === 'conflict') throw new ExitError(EXIT_FAILURE);
        return;
      }
      const [results, dead] = await Promise.all([applyPendingResults({ ...place, mode }), deadTasks(place)]);
      if (results.length === 0) {
        if (!options.json) printDead(dead);
        throw new ExitError(EXIT_FAILURE, 'No done results waiting to be applied.');
      }
      if (options.json) printJson([...results.map(batchJson), ...dead.map(({ task, partialWork }) => ({ taskId: task.id, status: 'dead', message: task.lastError?.message ?? '', partialWork }))]);
      else {
        for (const result of results) if ('outcome' in result) printOutcome(result.outcome, false);
        printDead(dead);
      }
      const failed = results.filter((result): result is Extract<BatchOutcome, { error: Error }> => 'error' in result);
      for (const result of failed) console.error(`swarm: task ${result.taskId} was not applied: ${escapeTerminal(result.error.message, { multiline: true })}`);
      if (failed.length > 0 || results.some((result) => 'outcome' in result && result.outcome.status === 'conflict')) throw new ExitError(EXIT_FAILURE);
    }));

  program
    .command('undo')
    .description('undo the last apply of a task (refused if the files were edited since)')
    .argument('<id>', 'task id')
    .action(userFacing(async (id: string) => {
      const { files } = await undoTaskApply({ ...(await openPlace()), taskId: id });
      printText(`Undid task ${escapeTerminal(id)}: restored ${files.length} file${files.length === 1 ? '' : 's'} (${files.map((file) => escapeTerminal(file)).join(', ')}).`);
    }));

  program
    .command('discard')
    .description("drop a task's result (the patch file stays in the artifacts for audit)")
    .argument('<id>', 'task id')
    .action(userFacing(async (id: string) => {
      await discardTaskPatch(await openPlace(), id);
      printText(`Discarded the result of task ${escapeTerminal(id)}.`);
    }));

  program
    .command('conflicts')
    .description('done results whose patches overlap (applying both would conflict)')
    .option('--json', 'print JSON only')
    .action(userFacing(async (options: { json?: boolean }) => {
      const conflicts = await findPatchConflicts(await openPlace());
      if (options.json) return printJson(conflicts);
      if (conflicts.length === 0) return printText('No overlapping results.');
      for (const conflict of conflicts) printText(`${conflict.taskIds.join(' <-> ')}: ${conflict.files.map((file) => escapeTerminal(file)).join(', ')}`);
    }));

  program
    .command('worktrees')
    .description("list the agents' worktrees (outside your checkout, in ~/.cache/agent-swarm/worktrees); --prune removes leftovers")
    .option('--prune', 'remove idle, half-created, orphaned and unregistered worktrees, and refs/swarm-* no task on the board needs (work of crashed attempts is kept on refs/swarm/<id>)')
    .option('--json', 'print JSON only')
    .action(userFacing(async (options: { prune?: boolean; json?: boolean }) => {
      const place = await openPlace();
      const root = place.workspaceRoot;
      const settings = worktreeSettingsOf(root);
      // Printed as they happen: what prune could not remove says how to remove it by hand.
      const log = options.json ? undefined : (line: string) => printText(escapeTerminal(line));
      const removed = options.prune ? await pruneWorktrees(root, { ...settings, log, idle: true }) : undefined;
      const transport = options.prune ? await pruneTransport(place) : undefined;
      const refs = options.prune ? (await pruneSwarmRefs(root, await refsStillNeeded(place))) + (transport?.refs ?? 0) : undefined;
      const worktrees = await listWorktrees(root, settings);
      // Parked trees are no git worktrees, but they are on disk and prune removes them: listed too.
      const parked = (await listParkedWorktrees(root, settings)).map((tree) => ({ path: tree.path, parked: true, busy: false, stale: false, parkedAt: tree.parkedAt }));
      if (options.json) return printJson(options.prune ? { removed, refs, ...(transport && { artifacts: transport.artifacts }), worktrees: [...worktrees, ...parked] } : [...worktrees, ...parked]);
      const bundles = transport ? `, ${transport.artifacts} bundle artifact${transport.artifacts === 1 ? '' : 's'} on the board` : '';
      if (removed !== undefined) printText(`Pruned ${removed} worktree${removed === 1 ? '' : 's'}${bundles} and ${refs} ref${refs === 1 ? '' : 's'} no task needs any more.`);
      if (worktrees.length === 0 && parked.length === 0) return printText('No agent worktrees.');
      const usage = await worktreesDiskUsage(root, settings);
      const parkedCount = parked.length > 0 ? ` and ${parked.length} parked for the next run` : '';
      printText(`${worktrees.length} worktree${worktrees.length === 1 ? '' : 's'}${parkedCount}, ${formatBytes(usage.bytes)} on disk (budget ${formatBytes(usage.budgetBytes)}; parked, then least recently used idle ones are removed above it)`);
      for (const wt of worktrees) {
        const state = wt.busy ? `running ${wt.taskId}` : wt.stale ? 'stale' : 'idle';
        const age = wt.lastUsed ? `, used ${formatDuration(Date.now() - wt.lastUsed)} ago` : '';
        printText(`${escapeTerminal(wt.slot ?? '?').padEnd(6)} ${escapeTerminal(state).padEnd(24)} ${wt.head.slice(0, 10)} ${escapeTerminal(wt.path)}${age}`);
      }
      for (const tree of parked) printText(`${'-'.padEnd(6)} ${'parked'.padEnd(24)} ${'-'.padEnd(10)} ${escapeTerminal(tree.path)}, parked ${formatDuration(Date.now() - tree.parkedAt)} ago`);
    }));
}

/** The workspace of a remote board's results: the repository this command runs in, else this folder. */
export function workspaceHere(): string {
  const repo = findGitRepository(process.cwd());
  return repo ? repo.topLevel : process.cwd();
}

/**
 * The worktree settings of swarm.config.json (its folder above all). An invalid file is refused:
 * falling back to the default folder would list, or prune, the wrong worktrees.
 */
function worktreeSettingsOf(root: string): ReturnType<typeof worktreeSettingsFrom> {
  const load = loadSwarmConfig(root, { trusted: true });
  if (load.config === undefined) throw invalidConfigFile(load.file, load.errors, 'no worktree was listed or removed');
  return worktreeSettingsFrom(load.config as Parameters<typeof worktreeSettingsFrom>[0]);
}

/**
 * Which swarm refs the board still needs: a base ref while its task's result waits for review
 * (or the task has not finished), partial work while its task is on the board. The board is read
 * once up front (the check itself is synchronous).
 */
async function refsStillNeeded(place: ResultPlace): Promise<(taskId: string, kind: 'base' | 'partial') => boolean> {
  const waiting = new Set(await pendingResults(place));
  const tasks = new Map((await listAllTasks(place.board)).map((task) => [task.id, task]));
  return (taskId, kind) => {
    // A post's snapshot (the base of its tasks' results): pruneTransport decides about it.
    if (kind === 'base' && isSnapshotId(taskId)) return true;
    const task = tasks.get(taskId);
    if (!task) return false;
    if (kind === 'partial') return true;
    return waiting.has(taskId) || !['done', 'dead', 'cancelled'].includes(task.status);
  };
}

/** On a shared board: the bundles on the board and the snapshot refs here that no task needs any more. */
async function pruneTransport(place: ResultPlace): Promise<{ artifacts: number; refs: number } | undefined> {
  if (!isSharedBoard(place.board)) return undefined;
  const waiting = new Set(await pendingResults(place));
  return pruneSharedTransport({ board: place.board, waitsForReview: (taskId) => waiting.has(taskId), repository: findGitRepository(place.workspaceRoot) ? place.workspaceRoot : undefined });
}

function batchJson(result: BatchOutcome): object {
  return 'error' in result ? { taskId: result.taskId, status: 'error', message: result.error.message } : { taskId: result.taskId, ...result.outcome };
}
