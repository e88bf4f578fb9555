// A finished (or interrupted) attempt, sent back: the binary patch against the snapshot, for review
// and apply as today, plus a thin bundle of a result commit (parent: the snapshot), so a follow-up,
// a retry or partial work can continue on any machine. The developer side imports the bundle and
// recomputes the patch from the imported commit: a patch that does not match it is refused.
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_ARTIFACT_CAP_BYTES } from '../board/interface';
import { assertSafePatchPath, type WriteScope } from '../patch/paths';
import { diffCommits, diffStaged, stageEverything, type ChangedFile } from '../worktree/diff';
import { gitText, runGit } from '../worktree/git';
import { runGitCapped, sha256 } from './bundle';
import { assertRefSafeTaskId, readResultDescriptor, REMOTE_FORMAT, resultRef, type ResultDescriptor, type ResultKind } from './descriptor';
import { megabytes, RemoteGitError, reportingDiskFull, untrusted } from './errors';
import { checkBundle, DEFAULT_MAX_EXPANDED_BYTES, importBundle } from './importer';
import { withLock } from './lock';
import type { LocalRepository } from './repositories';
import { treeFromChangedPaths, treeFromFullIndex, type ResultTreeInput } from './resultTree';

export interface ExportResultOptions {
  /** The slot's worktree (its top folder). */
  worktree: string;
  taskId: string;
  /** The snapshot the attempt started from: the patch's base and the result commit's parent. */
  snapshot: string;
  /** The workspace folder inside the repository; the patch is relative to it. */
  prefix?: string;
  /** Top-level paths never part of a result (the slot's linked dependencies). */
  exclude?: string[];
  /** 'partial' for an attempt that did not finish (kept on refs/swarm/<id>, as locally). */
  kind?: ResultKind;
  /** Largest patch and largest bundle; default the board's artifact cap (8 MB). */
  maxBytes?: number;
}

export interface ExportedResult {
  descriptor: ResultDescriptor;
  patch: string;
  /** Absent when the attempt changed nothing. */
  bundle?: Buffer;
  files: ChangedFile[];
}

export function exportResult(options: ExportResultOptions): Promise<ExportedResult> {
  return reportingDiskFull(`Saving the result of task ${options.taskId}`, () => exportResultNow(options));
}

async function exportResultNow(options: ExportResultOptions): Promise<ExportedResult> {
  assertRefSafeTaskId(options.taskId);
  const cwd = options.worktree;
  const kind = options.kind ?? 'result';
  const cap = options.maxBytes ?? DEFAULT_ARTIFACT_CAP_BYTES;
  await stageEverything({ cwd, exclude: options.exclude });
  const diff = await diffStaged({ cwd, base: options.snapshot, prefix: options.prefix ?? '' });
  if (Buffer.byteLength(diff.text) > cap) throw new RemoteGitError('too-large', `The result patch of task ${options.taskId} has ${megabytes(Buffer.byteLength(diff.text))}, over the ${megabytes(cap)} cap; raise the cap or split the task.`);
  const tree = await gitText(['write-tree'], { cwd });
  const made = await commitTree(cwd, tree, options.taskId, kind, options.snapshot);
  const { descriptor, bundle } = await bundleResult(cwd, made, { taskId: options.taskId, kind, snapshot: options.snapshot, cap }, diff.text);
  return { descriptor, patch: diff.text, bundle, files: diff.files };
}

interface MadeCommit {
  commit: string;
  /** The attempt changed nothing: the commit is the snapshot itself, and no bundle is made. */
  unchanged: boolean;
}

/** The result commit of `tree` on the snapshot (the snapshot itself when the tree did not change). */
async function commitTree(cwd: string, tree: string, taskId: string, kind: ResultKind, snapshot: string, knownUnchanged?: boolean): Promise<MadeCommit> {
  const unchanged = knownUnchanged ?? tree === (await gitText(['rev-parse', `${snapshot}^{tree}`], { cwd }));
  const commit = unchanged ? snapshot : await gitText(['commit-tree', tree, '-p', snapshot, '-m', `Agent Swarm ${kind === 'partial' ? 'partial work' : 'result'} of task ${taskId}`], { cwd });
  return { commit, unchanged };
}

/** Points the result ref at the commit, bundles it against the snapshot under the cap, and describes both. */
async function bundleResult(cwd: string, made: MadeCommit, result: { taskId: string; kind: ResultKind; snapshot: string; cap: number }, patch: Buffer | string): Promise<{ descriptor: ResultDescriptor; bundle?: Buffer }> {
  const { taskId, kind, snapshot, cap } = result;
  const ref = resultRef(taskId, kind);
  let bundle: Buffer | undefined;
  if (!made.unchanged) {
    await runGit(['update-ref', ref, made.commit], { cwd });
    const output = await runGitCapped(['bundle', 'create', '--quiet', '-', ref, `^${snapshot}`], cwd, cap);
    if (!output.data) throw new RemoteGitError('too-large', `The result of task ${taskId} needs ${output.atLeast ? 'more than ' : ''}${megabytes(output.size)} as a bundle, over the ${megabytes(cap)} cap; raise the cap or split the task.`);
    bundle = output.data;
  }
  const descriptor: ResultDescriptor = { format: REMOTE_FORMAT, taskId, kind, snapshot, commit: made.commit, ref, patchBytes: Buffer.byteLength(patch), patchSha256: sha256(patch), bundleBytes: bundle?.length ?? 0 };
  if (bundle) descriptor.bundleSha256 = sha256(bundle);
  return { descriptor, bundle };
}

export interface ImportResultOptions {
  /** A folder of the repository that has the snapshot (the developer's workspace, or a runner's repository). */
  repository: string;
  descriptor: unknown;
  bundle?: Buffer;
  /** The patch the runner sent; refused unless it is exactly the diff of the imported commit. */
  patch?: Buffer | string;
  /** The workspace folder inside the repository (the patch's root); default: `repository`'s own. */
  prefix?: string;
  /**
   * Checks the patch's paths as the apply path does, against this workspace and board folder (no
   * `..`, no `.git`, nothing in the task board, no symbolic links).
   */
  writeScope?: WriteScope;
  maxBytes?: number;
  maxExpandedBytes?: number;
}

export interface ImportedResult {
  commit: string;
  /** Where the commit is kept: refs/swarm-result/<id>, or refs/swarm/<id> for partial work (a local retry resumes from it). */
  ref: string;
  /** The patch computed here from the imported commit (equal to the one sent, when one was). */
  patch: string;
  files: ChangedFile[];
  descriptor: ResultDescriptor;
}

export function importResult(options: ImportResultOptions): Promise<ImportedResult> {
  return reportingDiskFull('Importing a result', () => importResultNow(options));
}

async function importResultNow(options: ImportResultOptions): Promise<ImportedResult> {
  const descriptor = readResultDescriptor(options.descriptor);
  const cap = options.maxBytes ?? DEFAULT_ARTIFACT_CAP_BYTES;
  const sent = options.patch === undefined ? undefined : Buffer.from(options.patch);
  if (sent && (sent.length > cap || sent.length !== descriptor.patchBytes || sha256(sent) !== descriptor.patchSha256)) {
    throw untrusted(`The result patch of task ${descriptor.taskId} does not match its descriptor (size or checksum), or is over the ${megabytes(cap)} cap; refusing it.`);
  }
  const header = descriptor.bundleBytes === 0 ? undefined : checkBundle(options.bundle, { what: 'result', bytes: descriptor.bundleBytes, sha256: descriptor.bundleSha256, cap, head: { ref: descriptor.ref, commit: descriptor.commit } });
  const cwd = options.repository;
  const commonDir = await gitText(['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd });
  const repository: LocalRepository = { gitDir: commonDir, kind: 'clone', lockFile: path.join(commonDir, 'swarm-remote.lock') };
  const missingAdvice = `Import the task's snapshot into this repository first (the developer keeps it on refs/swarm-base/${descriptor.taskId}).`;
  if (header && options.bundle) {
    const bundle = options.bundle;
    await withLock(repository.lockFile, async () => {
      await importBundle({ repository, bundle, header, into: descriptor.ref, what: `result of task ${descriptor.taskId}`, missingAdvice, maxExpandedBytes: options.maxExpandedBytes ?? DEFAULT_MAX_EXPANDED_BYTES });
      // Follow-ups and retries take the first parent as the snapshot the result was made from.
      const parent = await runGit(['rev-parse', '--verify', '-q', `${descriptor.commit}^1`], { cwd, okCodes: [1, 128] });
      if (parent.stdout.toString('utf8').trim() !== descriptor.snapshot) {
        await runGit(['update-ref', '-d', descriptor.ref], { cwd, okCodes: [1] });
        throw untrusted(`The result commit of task ${descriptor.taskId} does not build on its snapshot ${descriptor.snapshot.slice(0, 12)}; refusing it.`);
      }
    });
  } else {
    const present = await runGit(['cat-file', '-e', `${descriptor.snapshot}^{commit}`], { cwd, okCodes: [1, 128] });
    if (present.code !== 0) throw new RemoteGitError('missing-base', `The result of task ${descriptor.taskId} builds on ${descriptor.snapshot.slice(0, 12)}, which this repository does not have. ${missingAdvice}`);
  }
  const prefix = options.prefix ?? (await workspacePrefix(cwd));
  const diff = await diffCommits({ cwd, base: descriptor.snapshot, target: descriptor.commit, prefix });
  if (sent && !sent.equals(Buffer.from(diff.text))) throw untrusted(`The result patch of task ${descriptor.taskId} is not the diff of its result commit; refusing it.`);
  if (options.writeScope) for (const file of diff.files) for (const name of [file.path, file.from]) if (name) assertSafePatchPath(options.writeScope, name);
  return { commit: descriptor.commit, ref: descriptor.ref, patch: diff.text, files: diff.files, descriptor };
}

/** The folder's path inside its repository ('' at the top or in a bare repository). */
async function workspacePrefix(cwd: string): Promise<string> {
  const result = await runGit(['rev-parse', '--show-prefix'], { cwd, okCodes: [128] });
  return result.code === 0 ? result.stdout.toString('utf8').trim().replace(/\/$/, '') : '';
}

export interface ResultFromPatchOptions {
  /** The runner's repository (its git directory), which has the snapshot. */
  gitDir: string;
  taskId: string;
  /** What the patch applies to: the snapshot the attempt started from. */
  snapshot: string;
  /** The workspace folder inside the repository; the patch is relative to it. */
  prefix?: string;
  /** The patch the slot's collect made (the artifact the developer reviews). */
  patch: Buffer | string;
  kind?: ResultKind;
  maxBytes?: number;
  /**
   * How the result tree is built; default the patch's paths alone ('changed-paths'), then the whole
   * snapshot in an index ('full-index') when that fails. Tests compare the two.
   */
  treeFrom?: ResultTreeWay;
}

export type ResultTreeWay = 'changed-paths' | 'full-index';

/**
 * The result commit and its thin bundle, made from the collected patch in the runner's own git
 * directory (a private index; nothing the attempt wrote into its slot is read, so a slot whose
 * `.git` was tampered with cannot redirect it). The commit's diff must be the patch, byte for byte.
 */
export function resultFromPatch(options: ResultFromPatchOptions): Promise<Omit<ExportedResult, 'files'>> {
  return reportingDiskFull(`Saving the result of task ${options.taskId}`, () => resultFromPatchNow(options));
}

async function resultFromPatchNow(options: ResultFromPatchOptions): Promise<Omit<ExportedResult, 'files'>> {
  assertRefSafeTaskId(options.taskId);
  const cwd = options.gitDir;
  const kind = options.kind ?? 'result';
  const cap = options.maxBytes ?? DEFAULT_ARTIFACT_CAP_BYTES;
  const patch = Buffer.from(options.patch);
  if (patch.length > cap) throw new RemoteGitError('too-large', `The result patch of task ${options.taskId} has ${megabytes(patch.length)}, over the ${megabytes(cap)} cap; raise the cap or split the task.`);
  const prefix = options.prefix ?? '';
  const result = { taskId: options.taskId, kind, snapshot: options.snapshot, cap };
  const ways: ResultTreeWay[] = options.treeFrom ? [options.treeFrom] : ['changed-paths', 'full-index'];
  for (const [index, way] of ways.entries()) {
    const last = index === ways.length - 1;
    // Whatever the quick way cannot build (or builds wrong) the full index builds; its errors are the ones reported.
    const tree = await buildTree(way, { gitDir: cwd, snapshot: options.snapshot, patch, prefix, indexFile: '' }).catch((error: unknown) => {
      if (last) throw error;
      return undefined;
    });
    if (tree === undefined) continue;
    // An empty patch changes nothing; any other changes the tree, or the check below refuses the commit.
    const made = await commitTree(cwd, tree, options.taskId, kind, options.snapshot, patch.length === 0);
    // The check and the bundle are independent, so they run together; the bundle of a commit that fails the check is dropped.
    const [diff, bundled] = await Promise.allSettled([diffCommits({ cwd, base: options.snapshot, target: made.commit, prefix }), bundleResult(cwd, made, result, patch)]);
    if (diff.status === 'rejected') throw diff.reason;
    if (Buffer.from(diff.value.text).equals(patch)) {
      if (bundled.status === 'rejected') throw bundled.reason;
      return { descriptor: bundled.value.descriptor, patch: patch.toString('utf8'), bundle: bundled.value.bundle };
    }
    await runGit(['update-ref', '-d', resultRef(options.taskId, kind)], { cwd, okCodes: [1] });
  }
  throw new Error(`The result commit of task ${options.taskId} does not reproduce its patch byte for byte; the result bundle was not made.`);
}

/** The result tree one way, in a private index file removed afterwards. */
async function buildTree(way: ResultTreeWay, input: ResultTreeInput): Promise<string> {
  const indexFile = path.join(input.gitDir, 'swarm-tmp', `result-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.index`);
  fs.mkdirSync(path.dirname(indexFile), { recursive: true });
  try {
    return await (way === 'changed-paths' ? treeFromChangedPaths : treeFromFullIndex)({ ...input, indexFile });
  } finally {
    fs.rmSync(indexFile, { force: true });
  }
}
