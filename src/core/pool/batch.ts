// Batches: several chunks of one map in one run of a command (`eslint --fix {files}` started once
// for four chunks instead of four times). Which claimed tasks may run together, how many an agent
// takes (its fair share of the map), and how the one patch the run produced is split back into one
// patch per task. The run itself is in batchRun.ts; see docs/pool.md, "Batches".
import type { Board } from '../board/interface';
import type { Claim, Progress, Task } from '../board/types';
import { parsePatch } from '../diff/parse';

/**
 * The most characters of file names one batch may carry: SWARM_FILES holds them all in one
 * environment string, and Linux refuses any single one over 128 KiB (the command line repeats them;
 * 2 MiB for all together). A batch stops growing here.
 */
export const MAX_BATCH_FILE_CHARS = 100_000;

/**
 * Whether a claimed task may run in a batch: a child of a map, on its first attempt (a task that
 * failed once runs alone, so one bad file cannot fail its siblings again), with an attempt left
 * after this one (a batch failure fails every task of it once), and not a best-of-N or follow-up.
 * A task posted with a snapshot for other machines runs alone too: its runner sends each result back
 * as a bundle of that task (src/core/remote/workspace.ts), made from the whole patch of its run.
 */
export function mayBatch(task: Task): boolean {
  const payload = (typeof task.payload === 'object' && task.payload !== null ? task.payload : {}) as Record<string, unknown>;
  return (
    task.parentId !== undefined &&
    task.source === undefined &&
    task.attempts <= 1 &&
    task.lastError === undefined &&
    task.attempts < task.maxAttempts &&
    task.files.length > 0 &&
    payload.bestOf === undefined &&
    payload.startFrom === undefined &&
    payload.fromScratch === undefined
  );
}

/** Whether `next` may join the batch of `members`: a sibling from the same snapshot, with files of its own. */
export function fitsBatch(members: readonly Task[], next: Task): boolean {
  const leader = members[0];
  if (!mayBatch(next) || next.parentId !== leader.parentId) return false;
  if (JSON.stringify(next.source ?? null) !== JSON.stringify(leader.source ?? null)) return false;
  if (fileChars([...members, next]) > MAX_BATCH_FILE_CHARS) return false;
  return !members.some((member) => member.files.some((owned) => next.files.some((file) => overlaps(owned, file))));
}

/**
 * How many tasks of the map this agent takes at once: its share of the map's unfinished tasks
 * (pending, and running: its own claim and the other agents' batches) among the pool's agents,
 * so that two agents on eight chunks run four each and none is left without work.
 */
export function fairShare(progress: Pick<Progress, 'pending' | 'running'>, agents: number, limit: number): number {
  const unfinished = progress.pending + progress.running;
  return Math.max(1, Math.min(limit, Math.ceil(unfinished / Math.max(1, agents))));
}

export interface BatchClaimOptions {
  board: Board;
  /** The most tasks per command (the executor's batchLimit). */
  limit: number;
  /** Agents of the pool, the fair share's divisor. */
  agents: number;
  /** The one claim call of the worker (see AgentWorker.claimOrExplain). */
  claimNext: () => Promise<Claim | undefined>;
  log?: (message: string) => void;
}

/**
 * Claims the siblings that join `first`, up to the agent's fair share. A claimed task that does
 * not fit ends the batch and is released at once (a release does not count as an attempt), so
 * the next agent, or this one after the batch, runs it on its own.
 */
export async function claimBatch(first: Claim, options: BatchClaimOptions): Promise<Claim[]> {
  const members = [first];
  if (!mayBatch(first.task) || options.limit < 2) return members;
  const progress = await options.board.progress(first.task.parentId as string);
  const share = fairShare(progress, options.agents, options.limit);
  while (members.length < share) {
    const next = await options.claimNext();
    if (!next) break;
    if (!fitsBatch(members.map((member) => member.task), next.task)) {
      await options.board.release(next, `it cannot join the batch of ${first.task.id}; it runs on its own`).catch(() => undefined);
      break;
    }
    members.push(next);
  }
  return members;
}

/** The task a batch's command runs as: the first task, naming every member's files. */
export function batchTask(members: readonly Task[]): Task {
  return { ...members[0], files: members.flatMap((member) => member.files) };
}

/** One line for the log and messages: "a batch of 3 tasks: t1, t2, t3". */
export function describeBatch(members: readonly Task[]): string {
  return `a batch of ${members.length} tasks: ${members.map((member) => member.id).join(', ')}`;
}

export interface SplitPatch {
  /** Per task id, the sections of its own files, byte for byte, in the order of the whole patch (empty for none). */
  patches: Map<string, Buffer>;
  /** Per task id, the paths its sections change. */
  paths: Map<string, string[]>;
  /** Changed paths no task of the batch names: they went to the first task. */
  strays: string[];
}

/**
 * Splits a batch's patch by path. Each `diff --git` section is kept byte for byte (a patch may hold
 * text that is not UTF-8), so a task's patch is exactly what a run of it alone produces for a tool
 * that changes only the files it is given. A changed path no task names goes to the first task (a
 * run of it alone would have included it too).
 */
export function splitPatch(patch: Buffer, members: readonly Task[]): SplitPatch {
  const parts = new Map(members.map((member) => [member.id, [] as Buffer[]]));
  const paths = new Map(members.map((member) => [member.id, [] as string[]]));
  const strays: string[] = [];
  for (const section of patchSections(patch)) {
    const owner = members.find((member) => member.files.some((file) => covers(file, section.path) || (section.from !== undefined && covers(file, section.from))));
    if (!owner) strays.push(section.path);
    const id = (owner ?? members[0]).id;
    parts.get(id)?.push(section.bytes);
    paths.get(id)?.push(section.path);
  }
  const patches = new Map([...parts].map(([id, sections]) => [id, Buffer.concat(sections)] as [string, Buffer]));
  return { patches, paths, strays };
}

/** The patch's `diff --git` sections as exact slices of it, with the paths they change. */
function patchSections(patch: Buffer): Array<{ path: string; from?: string; bytes: Buffer }> {
  const starts: number[] = [];
  for (let at = patch.subarray(0, SECTION_START.length - 1).equals(SECTION_START.subarray(1)) ? 0 : nextSection(patch, 0); at !== -1; at = nextSection(patch, at + 1)) starts.push(at);
  return starts.map((start, index) => {
    const bytes = patch.subarray(start, index + 1 < starts.length ? starts[index + 1] : patch.length);
    const [parsed] = parsePatch(bytes.toString('utf8'));
    return { path: parsed.path, ...(parsed.from !== undefined && { from: parsed.from }), bytes };
  });
}

const SECTION_START = Buffer.from('\ndiff --git ');

function nextSection(patch: Buffer, from: number): number {
  const found = patch.indexOf(SECTION_START, from);
  return found === -1 ? -1 : found + 1;
}

/** Whether task path `owned` (a file, or a folder of files) covers `changed`. */
function covers(owned: string, changed: string): boolean {
  const folder = owned.replace(/\/+$/, '');
  return changed === folder || changed.startsWith(`${folder}/`) || folder === '.';
}

function overlaps(a: string, b: string): boolean {
  return covers(a, b) || covers(b, a);
}

function fileChars(tasks: readonly Task[]): number {
  return tasks.reduce((sum, task) => sum + task.files.reduce((chars, file) => chars + file.length + 3, 0), 0);
}
