// Staging writes one pack per `git add` (see STAGE_INTO_ONE_PACK in git.ts), so a long run leaves
// many small packs in the repository, and git looks an object up pack by pack. Git folds them only
// when a porcelain command runs its automatic gc (past 50 packs); a run's end folds them itself, with
// a geometric repack: only the small packs are rolled together, the repository's large pack is left
// as it is, and every object of the folded packs is kept (a staged blob no commit names yet included).
import * as fs from 'fs';
import * as path from 'path';
import { runGit } from './git';

/** More packs than this at a run's end are folded. */
export const MOST_PACKS_LEFT = 16;

export function packCount(commonDir: string): number {
  try {
    return fs.readdirSync(path.join(commonDir, 'objects', 'pack')).filter((name) => name.endsWith('.pack')).length;
  } catch {
    return 0;
  }
}

/** Whether it folded: only past MOST_PACKS_LEFT packs. Safe beside other git processes (they find objects in the new pack). */
export async function foldSmallPacks(commonDir: string, cwd: string): Promise<boolean> {
  if (packCount(commonDir) <= MOST_PACKS_LEFT) return false;
  await runGit(['repack', '-d', '-q', '--geometric=2'], { cwd });
  return true;
}
