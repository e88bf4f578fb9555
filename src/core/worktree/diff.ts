// Turns a directory's changes into a binary-safe patch against the snapshot the attempt started
// from: everything in the directory (new files included) is staged into the directory's own index,
// then `git diff --cached --binary -M` against the base gives text that `git apply` can replay,
// with renames, deletions, modes and binary contents.
import type { CollectedChanges } from '../pool/isolation';
import { runGit } from './git';

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
 * Stages all changes in the directory's index (its own worktree index, never the user's). Excluded
 * paths are reset to HEAD afterwards: an exclude pathspec would make `git add` fail on ignored files.
 */
export async function stageEverything(options: Pick<DiffOptions, 'cwd' | 'exclude' | 'env'>): Promise<void> {
  await runGit(['add', '-A', '--', ':(top)'], { cwd: options.cwd, env: options.env });
  const excluded = (options.exclude ?? []).map((entry) => `:(top)${entry}`);
  if (excluded.length > 0) await runGit(['reset', '-q', '--', ...excluded], { cwd: options.cwd, env: options.env });
}

export async function diffStaged(options: DiffOptions): Promise<DirectoryDiff> {
  const scope = scopeArgs(options.prefix);
  const common = ['diff', '--cached', '--no-color', '--no-ext-diff', '-M', '--full-index', ...scope.relative, options.base];
  const [patch, numstat, status] = await Promise.all([
    runGit([...common, '--binary', '--', ...scope.paths], { cwd: options.cwd, env: options.env }),
    runGit([...common, '--numstat', '-z', '--', ...scope.paths], { cwd: options.cwd, env: options.env }),
    runGit([...common, '--name-status', '-z', '--', ...scope.paths], { cwd: options.cwd, env: options.env }),
  ]);
  return { text: patch.stdout.toString('utf8'), files: mergeStats(parseNameStatus(status.stdout.toString('utf8')), parseNumstat(numstat.stdout.toString('utf8'))) };
}

/** Diff between two commits (direct isolation compares two snapshots). */
export async function diffCommits(options: DiffOptions & { target: string }): Promise<DirectoryDiff> {
  const scope = scopeArgs(options.prefix);
  const common = ['diff', '--no-color', '--no-ext-diff', '-M', '--full-index', ...scope.relative, options.base, options.target];
  const [patch, numstat, status] = await Promise.all([
    runGit([...common, '--binary', '--', ...scope.paths], { cwd: options.cwd, env: options.env }),
    runGit([...common, '--numstat', '-z', '--', ...scope.paths], { cwd: options.cwd, env: options.env }),
    runGit([...common, '--name-status', '-z', '--', ...scope.paths], { cwd: options.cwd, env: options.env }),
  ]);
  return { text: patch.stdout.toString('utf8'), files: mergeStats(parseNameStatus(status.stdout.toString('utf8')), parseNumstat(numstat.stdout.toString('utf8'))) };
}

function scopeArgs(prefix: string): { relative: string[]; paths: string[] } {
  if (!prefix) return { relative: [], paths: [':(top)'] };
  return { relative: [`--relative=${prefix}/`], paths: [`:(top)${prefix}`] };
}

interface NameStatus {
  path: string;
  from?: string;
  status: ChangedFile['status'];
}

export function parseNameStatus(raw: string): NameStatus[] {
  const parts = raw.split('\0');
  const entries: NameStatus[] = [];
  for (let i = 0; i < parts.length && parts[i]; ) {
    const code = parts[i][0];
    if (code === 'R' || code === 'C') {
      entries.push({ status: code === 'R' ? 'renamed' : 'added', from: code === 'R' ? parts[i + 1] : undefined, path: parts[i + 2] });
      i += 3;
    } else {
      entries.push({ status: code === 'A' ? 'added' : code === 'D' ? 'deleted' : 'modified', path: parts[i + 1] });
      i += 2;
    }
  }
  return entries;
}

interface LineStat {
  path: string;
  additions: number;
  deletions: number;
  binary: boolean;
}

export function parseNumstat(raw: string): LineStat[] {
  const parts = raw.split('\0');
  const stats: LineStat[] = [];
  for (let i = 0; i < parts.length && parts[i]; ) {
    const [added, deleted, name] = parts[i].split('\t');
    const binary = added === '-' && deleted === '-';
    const numbers = { additions: binary ? 0 : Number(added), deletions: binary ? 0 : Number(deleted), binary };
    if (name === '') {
      // A rename: the names follow as two separate fields.
      stats.push({ path: parts[i + 2], ...numbers });
      i += 3;
    } else {
      stats.push({ path: name, ...numbers });
      i += 1;
    }
  }
  return stats;
}

function mergeStats(statuses: NameStatus[], lines: LineStat[]): ChangedFile[] {
  const byPath = new Map(lines.map((line) => [line.path, line]));
  return statuses.map((entry) => {
    const line = byPath.get(entry.path);
    const file: ChangedFile = { path: entry.path, status: entry.status, additions: line?.additions ?? 0, deletions: line?.deletions ?? 0 };
    if (entry.from) file.from = entry.from;
    if (line?.binary) file.binary = true;
    return file;
  });
}
