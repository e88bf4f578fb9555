// Turns a directory's changes into a binary-safe patch against the snapshot the attempt started
// from: everything in the directory (new files included) is staged into the directory's own index,
// then `git diff --cached --binary -M` against the base gives text that `git apply` can replay,
// with renames, deletions, modes and binary contents.
import * as fs from 'fs';
import * as path from 'path';
import type { CollectedChanges } from '../pool/isolation';
import { parsePatch } from '../diff/parse';
import { refreshStatData, runGit, STAGE_INTO_ONE_PACK } from './git';

export type ChangedFile = CollectedChanges['files'][number];

export interface DirectoryDiff {
  text: string;
  files: ChangedFile[];
}

export interface DiffOptions {
  /** Directory inside the worktree (or workspace) whose index we may freely rewrite. */
  cwd: string;
  base: string;
  /** Restricts and relativises paths to this folder of the repository ('' = whole repository). */
  prefix: string;
  /** Top-level paths never part of a result (linked dependencies such as node_modules). */
  exclude?: string[];
  env?: Record<string, string>;
}

/**
 * Stages all changes in the directory's index (its own worktree index, never the user's), then
 * drops the excluded paths (linked dependencies, never tracked; relative to `cwd`, the top) from it. Exclude pathspecs cannot
 * be used: `git add` fails when one names an ignored file.
 */
export async function stageEverything(options: Pick<DiffOptions, 'cwd' | 'exclude' | 'env'>): Promise<void> {
  if (indexOlderThanThisSecond(options.cwd, options.env)) await refreshStatData(options.cwd, options.env);
  // The untracked cache lives in this private index and makes the repeated scans of a warm slot cheaper.
  await runGit([...STAGE_INTO_ONE_PACK, '-c', 'core.untrackedCache=true', 'add', '-A', '--', ':(top)'], { cwd: options.cwd, env: options.env });
  const excluded = options.exclude ?? [];
  if (excluded.length > 0) await runGit(['update-index', '--force-remove', '--', ...excluded], { cwd: options.cwd, env: options.env });
}

/**
 * Whether refreshing the stat data first makes the stage cheaper. A checkout writes its files and
 * then the index within the same second, so every entry it made is racily clean: the `add` would
 * check each file by content, the expensive way (see refreshStatData), and again on writing the
 * index. A refresh written in a later second than the index (a command that ran a second or more,
 * as most do) ends that: the entries are older than the index it writes. Within the same second it
 * would not, and is skipped. Unknown (no index found where the environment says): refresh.
 */
function indexOlderThanThisSecond(cwd: string, env: Record<string, string> | undefined): boolean {
  const index = env?.GIT_INDEX_FILE ?? path.join(env?.GIT_DIR ?? path.join(cwd, '.git'), 'index');
  let written: fs.Stats | undefined;
  try {
    written = fs.lstatSync(index);
  } catch {
    return true;
  }
  return !written.isFile() || Math.floor(written.mtimeMs / 1000) < Math.floor(Date.now() / 1000);
}

export async function diffStaged(options: DiffOptions): Promise<DirectoryDiff> {
  return runDiff(['--cached', options.base], options);
}

/** Diff between two commits (direct isolation compares two snapshots). */
export async function diffCommits(options: DiffOptions & { target: string }): Promise<DirectoryDiff> {
  return runDiff([options.base, options.target], options);
}

/** One `git diff --binary`; the file list and line counts are read from the patch itself. */
async function runDiff(revisions: string[], options: DiffOptions): Promise<DirectoryDiff> {
  const scope = scopeArgs(options.prefix);
  const args = ['diff', '--no-color', '--no-ext-diff', '--no-textconv', '-M', '--full-index', '--binary', ...scope.relative, ...revisions, '--', ...scope.paths];
  const text = (await runGit(args, { cwd: options.cwd, env: options.env })).stdout.toString('utf8');
  return { text, files: filesOfPatch(text) };
}

export function filesOfPatch(text: string): ChangedFile[] {
  return parsePatch(text).map((section) => {
    const file: ChangedFile = { path: section.path, status: section.status, additions: section.additions, deletions: section.deletions };
    if (section.from) file.from = section.from;
    if (section.binary) file.binary = true;
    return file;
  });
}

function scopeArgs(prefix: string): { relative: string[]; paths: string[] } {
  if (!prefix) return { relative: [], paths: [':(top)'] };
  return { relative: [`--relative=${prefix}/`], paths: [`:(top)${prefix}`] };
}
