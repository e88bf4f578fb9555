// The task's version of files: the base snapshot with the patch applied, in a throw-away index, so
// neither the user's index nor their files are involved.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { gitText, runGit } from '../worktree/git';
import type { RepoInfo } from '../worktree/repo';
import { ResultActionError } from './errors';

export interface FileVersion {
  content?: Buffer;
  /** git mode: 100644, 100755 or 120000 (symbolic link). */
  mode?: string;
}

/** Versions of `relPaths` (workspace-relative) after applying `text` to `base`; absent files map to {}. */
export async function theirsVersions(repo: RepoInfo, base: string, text: string, relPaths: string[]): Promise<Map<string, FileVersion>> {
  return withPatchedIndex(repo, base, text, async (env) => {
    const versions = new Map<string, FileVersion>();
    for (const relPath of relPaths) {
      const top = repo.prefix ? `${repo.prefix}/${relPath}` : relPath;
      const [mode, sha] = (await gitText(['ls-files', '-s', '--', `:(top,literal)${top}`], { cwd: repo.topLevel, env })).split(/\s+/);
      versions.set(relPath, sha ? { mode, content: (await runGit(['cat-file', 'blob', sha], { cwd: repo.topLevel })).stdout } : {});
    }
    return versions;
  });
}

/**
 * Runs `use` with an environment whose GIT_INDEX_FILE is a throw-away index holding `base` with the
 * patch applied; the user's index and files are never involved. The index is removed afterwards.
 */
export async function withPatchedIndex<T>(repo: RepoInfo, base: string, text: string, use: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const tempIndex = path.join(repo.gitDir, 'swarm-tmp', `patched-${process.pid}-${crypto.randomBytes(4).toString('hex')}.index`);
  fs.mkdirSync(path.dirname(tempIndex), { recursive: true });
  const env = { GIT_INDEX_FILE: tempIndex };
  try {
    await runGit(['read-tree', base], { cwd: repo.topLevel, env });
    const directory = repo.prefix ? [`--directory=${repo.prefix}`] : [];
    try {
      await runGit(['apply', '--cached', '--binary', ...directory, '-'], { cwd: repo.topLevel, env, input: text });
    } catch (error) {
      throw new ResultActionError('refused', `The patch does not apply to the snapshot it was made from (${(error as Error).message.split('\n')[0]}); it may be damaged.`, { cause: error });
    }
    return await use(env);
  } finally {
    fs.rmSync(tempIndex, { force: true });
  }
}
