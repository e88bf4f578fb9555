import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoardEngine as FileBoard, type BoardOptions } from '../../../src/core/board';

export const T0 = 1_700_000_040_000; // a whole minute, so bucket arithmetic in tests is readable

/** A real board in a fresh temp folder with a controllable clock; `cleanup` removes it. */
export function makeBoard(options: Partial<BoardOptions> = {}): { board: FileBoard; root: string; dir: string; clock: { now: number }; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-metrics-'));
  const clock = { now: T0 };
  const root = path.join(dir, '.swarm');
  const board = FileBoard.open({ root, now: () => clock.now, random: () => 0.5, durable: false, excludeFromGit: false, ...options });
  return {
    board,
    root,
    dir,
    clock,
    cleanup: () => {
      board.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
