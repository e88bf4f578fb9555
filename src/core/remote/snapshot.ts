// Developer side, at post time: the task's starting point is the developer's working state
// (uncommitted edits included), taken without touching their tree or index, kept reachable as
// refs/swarm-base/<id>, and shipped as a git bundle. The bundle is thin (it builds on a commit the
// shared remote already has) whenever such a commit exists, so it carries only the unpushed
// commits and the uncommitted changes; otherwise a full bundle under a size cap.
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_ARTIFACT_CAP_BYTES } from '../board/interface';
import { gitText, runGit } from '../worktree/git';
import { headCommit, locateRepository, snapshotWorkingState, type RepoInfo } from '../worktree/repo';
import { DEFAULT_INCLUDE, readWorktreeIncludeFile } from '../worktree/worktreeIsolation';
import { runGitCapped, sha256 } from './bundle';
import { assertRefSafeTaskId, REMOTE_FORMAT, SNAPSHOT_REF_PREFIX, type BundleKind, type SnapshotDescriptor } from './descriptor';
import { megabytes, RemoteGitError, reportingDiskFull } from './errors';
import { isLocalUrl, normaliseRepositoryUrl, stripCredentials } from './identity';

export interface SnapshotForRemoteOptions {
  workspaceRoot: string;
  taskId: string;
  /** Files the task names (workspace-relative); untracked ones travel unless ignored or on the include list. */
  files?: string[];
  /** The remote runners fetch from; default: `origin`, else the only remote, else the current branch's upstream remote. */
  remote?: string;
  /** Paths that never travel (secrets, dependencies); default the worktree include list + `.worktreeinclude`. */
  include?: string[];
  /** Largest bundle (thin or full); default the board's artifact cap (8 MB). */
  maxBundleBytes?: number;
}

export type LeftOutReason = 'ignored' | 'include-list' | 'outside-workspace';

export interface LeftOutFile {
  path: string;
  reason: LeftOutReason;
}

export interface RemoteSnapshot {
  descriptor: SnapshotDescriptor;
  /** The bundle to store as the task's artifact; absent when the snapshot is on the remote already. */
  bundle?: Buffer;
  /** Named or changed files that stay on this machine, and why (for the post's message). */
  leftOut: LeftOutFile[];
}

export function snapshotForRemote(options: SnapshotForRemoteOptions): Promise<RemoteSnapshot> {
  return reportingDiskFull(`Taking the snapshot for task ${options.taskId}`, () => snapshotNow(options));
}

async function snapshotNow(options: SnapshotForRemoteOptions): Promise<RemoteSnapshot> {
  assertRefSafeTaskId(options.taskId);
  const repo = await locateRepository(options.workspaceRoot);
  const include = options.include ?? [...DEFAULT_INCLUDE, ...readWorktreeIncludeFile(repo.workspaceRoot)];
  const cap = options.maxBundleBytes ?? DEFAULT_ARTIFACT_CAP_BYTES;
  // Which remote, and where HEAD is, do not depend on the snapshot: looked up alongside it.
  const remoteLookup = chooseRemote(repo, options.remote).then(async (remote) => ({ remote, url: remote ? await fetchUrl(repo, remote) : undefined }));
  const head = headCommit(repo.topLevel);
  // Awaited below; until then a failure must not count as unhandled.
  for (const pending of [remoteLookup, head]) pending.catch(() => undefined);
  const named = await sortNamedFiles(repo, options.files ?? [], include);
  const taken = await snapshotWorkingState(repo, { untracked: named.travel, message: `Agent Swarm snapshot for task ${options.taskId}` });
  const { commit: snapshot, dropped } = await withoutIncludeListEdits(repo, taken, await head, include);
  const ref = `${SNAPSHOT_REF_PREFIX}${options.taskId}`;
  const { remote, url } = await remoteLookup;
  const [base] = await Promise.all([remote ? sharedBase(repo, remote, snapshot) : undefined, runGit(['update-ref', ref, snapshot], { cwd: repo.topLevel })]);
  const leftOut = [...named.leftOut, ...dropped.map((file): LeftOutFile => ({ path: file, reason: 'include-list' }))];

  const repository = url ? normaliseRepositoryUrl(url, repo.topLevel) : `unpublished:${await rootCommit(repo, snapshot)}`;
  const kind: BundleKind = base === undefined ? 'full' : base === snapshot ? 'none' : 'thin';
  const bundle = kind === 'none' ? undefined : await createBundle(repo, ref, kind === 'thin' ? [`^${base}`] : [], cap, kind);

  const descriptor: SnapshotDescriptor = { format: REMOTE_FORMAT, taskId: options.taskId, repository, prefix: repo.prefix, snapshot, ref, bundle: kind, bundleBytes: bundle?.length ?? 0 };
  if (url) descriptor.url = url;
  if (base) descriptor.base = base;
  if (bundle) descriptor.bundleSha256 = sha256(bundle);
  return { descriptor, bundle, leftOut };
}

/**
 * Splits the task's named files into untracked ones that travel and the ones left out: ignored by
 * git, on the include list (`.env`, `node_modules`), or outside the workspace. Tracked files travel
 * anyway (with the rest of the tracked changes).
 */
async function sortNamedFiles(repo: RepoInfo, files: string[], include: string[]): Promise<{ travel: string[]; leftOut: LeftOutFile[] }> {
  const travel: string[] = [];
  const leftOut: LeftOutFile[] = [];
  const candidates: string[] = [];
  for (const file of files) {
    const clean = path.posix.normalize(file.split(path.sep).join('/')).replace(/\/+$/, '');
    if (path.isAbsolute(clean) || clean === '..' || clean.startsWith('../') || throughLinkOutside(repo, clean)) leftOut.push({ path: file, reason: 'outside-workspace' });
    else if (matchesInclude(clean, include)) leftOut.push({ path: clean, reason: 'include-list' });
    else candidates.push(clean);
  }
  const existing = candidates.filter((file) => fs.existsSync(path.join(repo.workspaceRoot, file)));
  if (existing.length > 0) {
    const listed = await runGit(['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--', ...existing], { cwd: repo.workspaceRoot });
    const ignored = listed.stdout.toString('utf8').split('\0').filter(Boolean);
    for (const file of ignored) leftOut.push({ path: file, reason: 'ignored' });
    // A named folder's other (untracked, not ignored) files still travel.
    travel.push(...existing.filter((file) => !ignored.includes(file)));
  }
  return { travel, leftOut };
}

/** A named path whose folder is reached through a symbolic link to outside the repository (git would not add it). */
function throughLinkOutside(repo: RepoInfo, relative: string): boolean {
  const folder = path.dirname(path.join(repo.workspaceRoot, relative));
  let real: string;
  try {
    real = fs.realpathSync(folder);
  } catch {
    return false;
  }
  const inside = path.relative(fs.realpathSync(repo.topLevel), real);
  return inside.startsWith('..') || path.isAbsolute(inside);
}

/**
 * Include-list entries are workspace-relative paths; one without a slash (`.env`, `node_modules`)
 * also matches that name in any folder, so `packages/api/.env` stays home too.
 */
function matchesInclude(relative: string, include: string[]): boolean {
  const parts = relative.split('/');
  return include.some((entry) => {
    const clean = entry.replace(/^\.?\//, '').replace(/\/+$/, '');
    if (!clean) return false;
    if (relative === clean || relative.startsWith(`${clean}/`)) return true;
    return !clean.includes('/') && parts.includes(clean);
  });
}

/**
 * A tracked include-list file (a committed `.env` template) with uncommitted edits: the snapshot
 * keeps its committed version, so the edit (a secret) stays on this machine.
 */
async function withoutIncludeListEdits(repo: RepoInfo, snapshot: string, headCommit: string | undefined, include: string[]): Promise<{ commit: string; dropped: string[] }> {
  if (headCommit === snapshot) return { commit: snapshot, dropped: [] };
  const changedArgs = headCommit ? ['diff-tree', '-r', '--no-renames', '--name-only', '-z', headCommit, snapshot] : ['ls-tree', '-r', '--name-only', '-z', snapshot];
  const changed = (await runGit(changedArgs, { cwd: repo.topLevel })).stdout.toString('utf8').split('\0').filter(Boolean);
  const inWorkspace = (file: string) => (repo.prefix ? (file.startsWith(`${repo.prefix}/`) ? file.slice(repo.prefix.length + 1) : undefined) : file);
  const dropped = changed.filter((file) => {
    const relative = inWorkspace(file);
    return relative !== undefined && matchesInclude(relative, include);
  });
  if (dropped.length === 0) return { commit: snapshot, dropped: [] };
  const tempIndex = path.join(repo.gitDir, 'swarm-tmp', `remote-${process.pid}-${Date.now()}.index`);
  fs.mkdirSync(path.dirname(tempIndex), { recursive: true });
  try {
    const env = { GIT_INDEX_FILE: tempIndex };
    await runGit(['read-tree', snapshot], { cwd: repo.topLevel, env });
    if (headCommit) await runGit(['reset', '-q', headCommit, '--', ...dropped], { cwd: repo.topLevel, env, okCodes: [1] });
    else await runGit(['rm', '-q', '--cached', '--', ...dropped], { cwd: repo.topLevel, env });
    const tree = await gitText(['write-tree'], { cwd: repo.topLevel, env });
    const parents = headCommit ? ['-p', headCommit] : [];
    const commit = await gitText(['commit-tree', tree, ...parents, '-m', 'Agent Swarm snapshot of the working state (include-list edits left out)'], { cwd: repo.topLevel });
    return { commit, dropped: dropped.map((file) => inWorkspace(file) as string) };
  } finally {
    fs.rmSync(tempIndex, { force: true });
  }
}

/** The remote runners share with us: the one asked for, `origin`, the only one, or the upstream's. */
async function chooseRemote(repo: RepoInfo, asked: string | undefined): Promise<string | undefined> {
  const remotes = (await gitText(['remote'], { cwd: repo.topLevel })).split('\n').filter(Boolean);
  if (asked !== undefined) {
    if (!remotes.includes(asked)) throw new RemoteGitError('config', `This repository has no remote named "${asked}" (it has: ${remotes.join(', ') || 'none'}); name one of its remotes, or add it with \`git remote add ${asked} <url>\`.`);
    return asked;
  }
  if (remotes.length === 0) return undefined;
  if (remotes.includes('origin')) return 'origin';
  if (remotes.length === 1) return remotes[0];
  const branch = await runGit(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd: repo.topLevel, okCodes: [1, 128] });
  const upstream = branch.code === 0 ? await configValue(repo, `branch.${branch.stdout.toString('utf8').trim()}.remote`) : undefined;
  if (upstream && remotes.includes(upstream)) return upstream;
  throw new RemoteGitError('config', `This repository has several remotes (${remotes.join(', ')}) and none is "origin"; choose the one runners fetch from (the remote setting).`);
}

async function configValue(repo: RepoInfo, key: string): Promise<string | undefined> {
  const result = await runGit(['config', '--get', key], { cwd: repo.topLevel, okCodes: [1] });
  return result.code === 0 ? result.stdout.toString('utf8').trim() : undefined;
}

/** The remote's fetch URL without credentials; a local path made absolute (runners resolve nothing relative). */
async function fetchUrl(repo: RepoInfo, remote: string): Promise<string> {
  const url = await gitText(['remote', 'get-url', remote], { cwd: repo.topLevel });
  if (isLocalUrl(url)) return normaliseRepositoryUrl(url, repo.topLevel).slice('file://'.length);
  return stripCredentials(url);
}

/**
 * A commit the remote has that the snapshot builds on: its merge base with the branch's upstream
 * (when on this remote), else with the remote's default branch, else with whichever of the remote's
 * branches leaves the least to ship. Undefined when no remote-tracking ref shares history with it.
 * A remote-tracking ref that is behind the remote is fine: the remote still has that commit.
 */
async function sharedBase(repo: RepoInfo, remote: string, snapshot: string): Promise<string | undefined> {
  const preferred: string[] = [];
  const upstream = await runGit(['rev-parse', '--symbolic-full-name', '@{upstream}'], { cwd: repo.topLevel, okCodes: [128] });
  const upstreamRef = upstream.code === 0 ? upstream.stdout.toString('utf8').trim() : '';
  if (upstreamRef.startsWith(`refs/remotes/${remote}/`)) preferred.push(upstreamRef);
  preferred.push(`refs/remotes/${remote}/HEAD`);
  for (const ref of preferred) {
    const base = await mergeBase(repo, snapshot, ref);
    if (base) return base;
  }
  const refs = (await gitText(['for-each-ref', '--format=%(refname)', '--count=100', `refs/remotes/${remote}/`], { cwd: repo.topLevel })).split('\n').filter(Boolean);
  let best: { base: string; ahead: number } | undefined;
  for (const ref of refs) {
    const base = await mergeBase(repo, snapshot, ref);
    if (!base) continue;
    const ahead = Number(await gitText(['rev-list', '--count', snapshot, `^${base}`], { cwd: repo.topLevel }));
    if (!best || ahead < best.ahead) best = { base, ahead };
  }
  return best?.base;
}

async function mergeBase(repo: RepoInfo, snapshot: string, ref: string): Promise<string | undefined> {
  const result = await runGit(['merge-base', snapshot, ref], { cwd: repo.topLevel, okCodes: [1, 128] });
  return result.code === 0 ? result.stdout.toString('utf8').trim() || undefined : undefined;
}

async function rootCommit(repo: RepoInfo, snapshot: string): Promise<string> {
  const roots = (await gitText(['rev-list', '--max-parents=0', snapshot], { cwd: repo.topLevel })).split('\n').filter(Boolean);
  return roots.sort()[0];
}

async function createBundle(repo: RepoInfo, ref: string, exclude: string[], cap: number, kind: BundleKind): Promise<Buffer> {
  const output = await runGitCapped(['bundle', 'create', '--quiet', '-', ref, ...exclude], repo.topLevel, cap);
  if (output.data) return output.data;
  const needs = `${output.atLeast ? 'more than ' : ''}${megabytes(output.size)}`;
  const what = kind === 'thin' ? 'The snapshot (your unpushed commits and uncommitted changes)' : 'The snapshot (with its whole history, since the remote has none of it)';
  throw new RemoteGitError('too-large', `${what} needs ${needs}, over the ${megabytes(cap)} cap: push your branch so runners can fetch its history, or raise the cap.`);
}
