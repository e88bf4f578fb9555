import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoardEngine as FileBoard, BoardOptions } from '../../../src/core/board';

export function tempDir(prefix = 'swarm-board-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A board in a fresh temp folder with a controllable clock; removed by `cleanup`. */
export function makeBoard(options: Partial<BoardOptions> = {}): { board: FileBoard; root: string; clock: { now: number }; cleanup(): void } {
  const dir = tempDir();
  const clock = { now: 1_700_000_000_000 };
  const root = path.join(dir, '.swarm');
  const board = FileBoard.open({ root, now: () => clock.now, random: () => 0.5, durable: false, ...options });
  return { board, root, clock, cleanup: () => { board.close(); removeDir(dir); } };
}

const STATES = ['pending', 'delayed', 'running', 'waiting', 'done', 'dead', 'cancelled'];

/** Maps each task id to the state directories that hold it: every task must appear exactly once. */
export function statesById(root: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const state of STATES) {
    for (const name of fs.readdirSync(path.join(root, state))) {
      const stem = name.replace(/\.json$/, '').split('~');
      const id = state === 'pending' ? stem[2] : state === 'delayed' ? stem[3] : stem[0];
      result.set(id, [...(result.get(id) ?? []), state]);
    }
  }
  return result;
}
