// Book-keeping of agent-slot worktrees: one directory and one small JSON state file per slot under
// the worktrees directory (by default inside the repository's git directory, so editors, watchers,
// search and builds never see them). The state file is written before any git work starts, so a
// crash at any moment leaves either a `creating` record (removed by the next prune) or a `ready` one.
import * as fs from 'fs';
import * as path from 'path';
import writeFileAtomic from 'write-file-atomic';

export interface SlotState {
  slot: string;
  path: string;
  /** `creating` until the worktree is complete (checkout, includes, setup); then `ready`. */
  phase: 'creating' | 'ready';
  /** Task running in the slot, and the pid of the process that runs it. */
  taskId?: string;
  ownerPid?: number;
  /** Base commit of the running (or last) attempt. */
  base?: string;
  /** The worktree's git admin folder, recorded when git made it (before any command ran in the slot). */
  gitDir?: string;
  setupDone: boolean;
  /** Included dependencies this isolation linked or copied into the worktree (paths from the top); never part of a result. */
  linked?: string[];
  createdAt: number;
  lastUsed: number;
}

export function slotDirName(slot: string): string {
  return `slot-${slot.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export function slotPaths(worktreesDir: string, slot: string): { dir: string; stateFile: string } {
  const name = slotDirName(slot);
  return { dir: path.join(worktreesDir, name), stateFile: path.join(worktreesDir, `${name}.json`) };
}

export function readSlotState(stateFile: string): SlotState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile, 'utf8')) as SlotState;
  } catch {
    return undefined;
  }
}

export function writeSlotState(stateFile: string, state: SlotState): void {
  fs.mkdirSync(path.dirname(stateFile), { recursive: true });
  writeFileAtomic.sync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

export function listSlotStates(worktreesDir: string): SlotState[] {
  if (!fs.existsSync(worktreesDir)) return [];
  return fs
    .readdirSync(worktreesDir)
    .filter((name) => name.startsWith('slot-') && name.endsWith('.json'))
    .map((name) => readSlotState(path.join(worktreesDir, name)))
    .filter((state): state is SlotState => state !== undefined);
}

export function isProcessAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A slot is busy while a live process runs a task in it. */
export function isSlotBusy(state: SlotState): boolean {
  return state.taskId !== undefined && isProcessAlive(state.ownerPid);
}
