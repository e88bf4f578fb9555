// TaskIsolation without isolation: the agent works in the user's folder itself (only when the user
// opts in). To still produce a reviewable result, prepare() snapshots the whole folder (tracked and
// untracked files) and collect() snapshots it again and diffs the two. A folder that is not a git
// repository gets a private "shadow" git directory outside the folder for those snapshots.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findGitRepository } from '../board/gitExclude';
import type { Task } from '../board/types';
import type { CollectedChanges, PreparedWorkspace, TaskIsolation } from '../pool/isolation';
import { diffCommits } from './diff';
import { runGit } from './git';
import { locateRepository, snapshotWorkingState, type RepoInfo } from './repo';

/** Never snapshotted in a shadow repository (big, generated, or the board itself). */
const SHADOW_EXCLUDES = ['.swarm/', 'node_modules/', '.git/', '.env', '.env.*'];

/** The private git directory that holds direct-mode snapshots of a folder that is not a repository. */
export function shadowGitDir(workspaceRoot: string): string {
  const hash = crypto.createHash('sha256').update(fs.realpathSync(workspaceRoot)).digest('hex').slice(0, 16);
  return path.join(os.tmpdir(), 'agent-swarm-direct', hash);
}

interface SnapshotTarget {
  repo: Pick<RepoInfo, 'topLevel' | 'gitDir' | 'prefix'>;
  env?: Record<string, string>;
}

export class DirectIsolation implements TaskIsolation {
  readonly kind = 'direct';
  private targetPromise?: Promise<SnapshotTarget>;
  private readonly workspaceRoot: string;

  constructor(workspaceRoot: string) {
    this.workspaceRoot = path.resolve(workspaceRoot);
  }

  async prepare(task: Task): Promise<PreparedWorkspace> {
    const target = await this.target();
    const snapshot = await snapshotWorkingState(target.repo, { allUntracked: true, env: target.env, message: `Agent Swarm snapshot before task ${task.id}` });
    return { cwd: this.workspaceRoot, snapshot };
  }

  async collect(task: Task, _slot: string, prepared: PreparedWorkspace, artifactsDir: string): Promise<CollectedChanges> {
    if (!prepared.snapshot) return { files: [] };
    const target = await this.target();
    const after = await snapshotWorkingState(target.repo, { allUntracked: true, env: target.env, message: `Agent Swarm snapshot after task ${task.id}` });
    const diff = await diffCommits({ cwd: target.repo.topLevel, base: prepared.snapshot, target: after, prefix: target.repo.prefix, env: target.env });
    const changes: CollectedChanges = { files: diff.files, base: prepared.snapshot };
    if (diff.text.length > 0) {
      fs.mkdirSync(artifactsDir, { recursive: true });
      changes.patchFile = path.join(artifactsDir, 'result.patch');
      fs.writeFileSync(changes.patchFile, diff.text);
    }
    return changes;
  }

  /** The changes stay in the user's folder: there is nothing to keep elsewhere. */
  async abandon(): Promise<void> {}

  private target(): Promise<SnapshotTarget> {
    this.targetPromise ??= findGitRepository(this.workspaceRoot)
      ? locateRepository(this.workspaceRoot).then((repo) => ({ repo }))
      : this.shadowTarget();
    return this.targetPromise;
  }

  private async shadowTarget(): Promise<SnapshotTarget> {
    const gitDir = shadowGitDir(this.workspaceRoot);
    const env = { GIT_DIR: gitDir, GIT_WORK_TREE: this.workspaceRoot };
    if (!fs.existsSync(path.join(gitDir, 'HEAD'))) {
      fs.mkdirSync(gitDir, { recursive: true });
      await runGit(['init', '--quiet', '--bare', gitDir], { cwd: this.workspaceRoot });
      fs.mkdirSync(path.join(gitDir, 'info'), { recursive: true });
      fs.writeFileSync(path.join(gitDir, 'info', 'exclude'), `${SHADOW_EXCLUDES.join('\n')}\n`);
    }
    return { repo: { topLevel: this.workspaceRoot, gitDir, prefix: '' }, env };
  }
}
