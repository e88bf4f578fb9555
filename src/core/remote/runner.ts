// Runner side: from a task's snapshot descriptor and bundle to a commit a worktree slot can start
// from, with the identical commit id the developer's snapshot has.
import { DEFAULT_ARTIFACT_CAP_BYTES } from '../board/interface';
import { runGit } from '../worktree/git';
import { IMPORTED_REF_PREFIX, assertRefSafeTaskId, readSnapshotDescriptor, type SnapshotDescriptor } from './descriptor';
import { checkBundle, DEFAULT_MAX_EXPANDED_BYTES, deleteRef, ensureCommits, importBundle } from './importer';
import { reportingDiskFull, untrusted } from './errors';
import { withLock } from './lock';
import { repositoryFor, type LocalRepository, type RepositorySourceOptions } from './repositories';

export interface ImportSnapshotOptions extends RepositorySourceOptions {
  /** Largest bundle accepted; default the board's artifact cap (8 MB). */
  maxBundleBytes?: number;
  /** Largest unpacked size of what a bundle adds; default 2 GB. */
  maxExpandedBytes?: number;
}

export interface ImportedSnapshot {
  /** The repository to add the slot's worktree from (`git worktree add --detach <dir> <commit>`). */
  gitDir: string;
  /** The snapshot commit: the same id as on the developer's machine. */
  commit: string;
  /** Keeps the commit reachable here until releaseSnapshot(). */
  ref: string;
  /** The workspace folder inside the repository: the agent works in `<worktree>/<prefix>`. */
  prefix: string;
  repository: LocalRepository;
  descriptor: SnapshotDescriptor;
}

const MISSING_SNAPSHOT_ADVICE = 'Its commits may have been force-pushed away, or the developer\'s remote-tracking branch points at a commit the remote never had: on the developer\'s machine run `git fetch` and post the task again.';

/** Imports the task's snapshot; throws RemoteGitError (see `permanent`) when it cannot or must not. */
export async function importSnapshot(descriptorValue: unknown, bundle: Buffer | undefined, options: ImportSnapshotOptions): Promise<ImportedSnapshot> {
  const descriptor = readSnapshotDescriptor(descriptorValue);
  const header =
    descriptor.bundle === 'none'
      ? undefined
      : checkBundle(bundle, { what: 'snapshot', bytes: descriptor.bundleBytes, sha256: descriptor.bundleSha256, cap: options.maxBundleBytes ?? DEFAULT_ARTIFACT_CAP_BYTES, head: { ref: descriptor.ref, commit: descriptor.snapshot } });
  if (header && descriptor.bundle === 'full' && header.prerequisites.length > 0) throw untrusted('The snapshot bundle builds on other commits, but the task says it carries the whole history; refusing it.');
  const ref = `${IMPORTED_REF_PREFIX}${descriptor.taskId}`;
  const repository = await reportingDiskFull(`Preparing the repository for task ${descriptor.taskId}`, () => repositoryFor(descriptor.repository, descriptor.url, options));
  const importIt = async () => {
    if (header && bundle) {
      await importBundle({ repository, bundle, header, into: ref, what: `snapshot of task ${descriptor.taskId}`, missingAdvice: MISSING_SNAPSHOT_ADVICE, maxExpandedBytes: options.maxExpandedBytes ?? DEFAULT_MAX_EXPANDED_BYTES });
    } else {
      await ensureCommits(repository, [descriptor.snapshot], () => `The snapshot of task ${descriptor.taskId} (${descriptor.snapshot.slice(0, 12)}) is not on ${descriptor.url ?? 'this machine'}. ${MISSING_SNAPSHOT_ADVICE}`);
      await runGit(['update-ref', ref, descriptor.snapshot], { cwd: repository.gitDir });
    }
  };
  await reportingDiskFull(`Importing the snapshot of task ${descriptor.taskId}`, () => withLock(repository.lockFile, importIt, options.lock));
  return { gitDir: repository.gitDir, commit: descriptor.snapshot, ref, prefix: descriptor.prefix, repository, descriptor };
}

/** Forgets an imported snapshot once its task ended here (its objects go with the next gc). */
export async function releaseSnapshot(gitDir: string, taskId: string): Promise<void> {
  assertRefSafeTaskId(taskId);
  await deleteRef(gitDir, `${IMPORTED_REF_PREFIX}${taskId}`);
}
