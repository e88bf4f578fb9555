// Without a sandbox nothing stops a command from writing outside its worktree, so the host looks
// afterwards: a fingerprint of the user's checkout (git status plus the stat of every listed path)
// and of the repository's config and hooks (content hashes) is taken before each attempt and
// compared after it. A difference becomes a warning in the task's result: such a task is never
// reported clean. The user may have edited files meanwhile, so the warning says that too.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Task } from '../board/types';
import type { CollectedChanges, PreparedWorkspace, TaskIsolation } from '../pool/isolation';
import { runGit } from '../worktree/git';

export interface GuardTargets {
  /** Top of the user's checkout; undefined when attempts work in it by design (direct isolation). */
  checkout?: string;
  /** The repository's common git folder (config, hooks). */
  gitCommonDir: string;
}

export interface Fingerprint {
  /** Path → status and stat of every path git status lists (changed or untracked). */
  checkout?: Map<string, string>;
  config: string;
  hooks: Map<string, string>;
}

const MAX_LISTED = 10;

export async function takeFingerprint(targets: GuardTargets): Promise<Fingerprint> {
  return {
    checkout: targets.checkout === undefined ? undefined : await checkoutFingerprint(targets.checkout),
    config: hashFiles([path.join(targets.gitCommonDir, 'config'), path.join(targets.gitCommonDir, 'config.worktree'), path.join(targets.gitCommonDir, 'info', 'attributes')]),
    hooks: hookHashes(path.join(targets.gitCommonDir, 'hooks')),
  };
}

/** Warnings for everything that differs between two fingerprints; empty when nothing does. */
export function describeEscapes(before: Fingerprint, after: Fingerprint, targets: GuardTargets): string[] {
  const warnings: string[] = [];
  if (before.checkout && after.checkout) {
    const changed = changedKeys(before.checkout, after.checkout);
    if (changed.length > 0) {
      warnings.push(
        `Files in your checkout (${targets.checkout}) changed while this task ran without a sandbox: ${listed(changed)}. ` +
          'Its commands may have written them, or you (or another program) edited them meanwhile; check them before you trust this result.',
      );
    }
  }
  if (before.config !== after.config) {
    warnings.push(
      `The repository's git configuration (${path.join(targets.gitCommonDir, 'config')}) changed while this task ran without a sandbox. ` +
        'Check it (git config --list --local) for settings you did not make, such as core.hooksPath or core.fsmonitor.',
    );
  }
  const hooks = changedKeys(before.hooks, after.hooks);
  if (hooks.length > 0) {
    warnings.push(`The repository's git hooks (${path.join(targets.gitCommonDir, 'hooks')}) changed while this task ran without a sandbox: ${listed(hooks)}. Check them before your next commit.`);
  }
  return warnings;
}

/**
 * Wraps the host's isolation: a fingerprint before each prepare, a comparison after collect (the
 * warnings go into the result) and after abandon (the warnings go to `warn`: the attempt failed anyway).
 */
export function guardIsolation(inner: TaskIsolation, targets: GuardTargets, warn: (message: string) => void): TaskIsolation {
  const pending = new Map<string, Promise<Fingerprint | undefined>>();
  const key = (task: Task, slot: string): string => `${task.id}\0${slot}`;
  const safely = (): Promise<Fingerprint | undefined> => takeFingerprint(targets).catch(() => undefined);
  const compare = async (task: Task, slot: string): Promise<string[]> => {
    const before = await pending.get(key(task, slot));
    pending.delete(key(task, slot));
    const after = before ? await safely() : undefined;
    return before && after ? describeEscapes(before, after, targets) : [];
  };
  return {
    kind: inner.kind,
    prepare: (task, slot, artifactsDir, signal) => {
      pending.set(key(task, slot), safely());
      return inner.prepare(task, slot, artifactsDir, signal);
    },
    collect: async (task: Task, slot: string, prepared: PreparedWorkspace, artifactsDir: string): Promise<CollectedChanges> => {
      const changes = await inner.collect(task, slot, prepared, artifactsDir);
      const warnings = await compare(task, slot);
      return warnings.length > 0 ? { ...changes, warnings: [...(changes.warnings ?? []), ...warnings] } : changes;
    },
    abandon: async (task, slot, prepared, reason) => {
      await inner.abandon(task, slot, prepared, reason);
      for (const warning of await compare(task, slot)) warn(`Task ${task.id}: ${warning}`);
    },
    keepBase: inner.keepBase ? (taskIds, base) => (inner.keepBase as (ids: string[], commit: string) => Promise<void>)(taskIds, base) : undefined,
    warmUp: inner.warmUp ? (slots, when) => inner.warmUp?.(slots, when) : undefined,
    prune: inner.prune ? () => (inner.prune as () => Promise<void>)() : undefined,
    release: inner.release ? () => (inner.release as () => Promise<void>)() : undefined,
    useSandbox: inner.useSandbox ? (sandbox, env) => inner.useSandbox?.(sandbox, env) : undefined,
  };
}

async function checkoutFingerprint(topLevel: string): Promise<Map<string, string>> {
  const status = await runGit(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames', '--ignore-submodules=dirty'], { cwd: topLevel });
  const entries = new Map<string, string>();
  for (const record of status.stdout.toString('utf8').split('\0')) {
    if (record.length < 4) continue;
    const file = record.slice(3);
    entries.set(file, `${record.slice(0, 2)}|${statSignature(path.join(topLevel, file))}`);
  }
  return entries;
}

function statSignature(file: string): string {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  return stat ? `${stat.size}|${stat.mtimeMs}|${stat.ino}|${stat.mode}` : 'missing';
}

function hashFiles(files: string[]): string {
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    hash.update(file);
    try {
      hash.update(fs.readFileSync(file));
    } catch {
      hash.update('\0absent');
    }
  }
  return hash.digest('hex');
}

/** Name → content hash of every file in the hooks folder (and below), symlinks by their target. */
function hookHashes(dir: string): Map<string, string> {
  const hashes = new Map<string, string>();
  const walk = (folder: string, prefix: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(folder);
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(folder, name);
      const stat = fs.lstatSync(full, { throwIfNoEntry: false });
      if (!stat) continue;
      const relative = prefix ? `${prefix}/${name}` : name;
      if (stat.isDirectory()) walk(full, relative);
      else if (stat.isSymbolicLink()) hashes.set(relative, `link:${fs.readlinkSync(full)}`);
      else hashes.set(relative, `${stat.mode}:${hashFiles([full])}`);
    }
  };
  walk(dir, '');
  return hashes;
}

function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((key) => before.get(key) !== after.get(key)).sort();
}

function listed(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more` : shown;
}
