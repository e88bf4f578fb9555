// The verify check before a run: the executor's verify command runs once in a workspace prepared
// from the run's snapshot, changed by nothing, with the attempts' sandbox. If it fails there, it
// would fail every task, so the pool stops before claiming anything.
import * as os from 'os';
import * as path from 'path';
import { parseExecutorConfig } from '../executors';
import { verifyCheckTask, verifyDependsOnTheTask, verifyFailsBeforeAnyChange } from '../executors/verifyCheck';
import type { ResolvedSandbox } from '../sandbox';
import { createCommandSandbox } from '../sandbox/launcher';
import type { TaskIsolation } from './isolation';

export interface VerifyFirstOptions {
  /** Executor config JSON; only its `verify` and `env` are used. */
  executor: unknown;
  isolation: TaskIsolation;
  /** The slot to prepare (the first agent's: that agent then starts in a warm workspace). */
  slot: string;
  sandbox: ResolvedSandbox;
  /** A file board's folder: kept read-only for the check like for attempts. */
  boardFolder: string | undefined;
  env: NodeJS.ProcessEnv | undefined;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** Why verify fails on the unchanged snapshot; undefined when it passes or cannot be checked ahead (it names the task). */
export async function verifyFailsFirst(options: VerifyFirstOptions): Promise<string | undefined> {
  const config = parseExecutorConfig(options.executor);
  const verify = config.verify;
  if (verify === undefined || verifyDependsOnTheTask(verify)) return undefined;
  const { isolation, slot, signal, log } = options;
  const task = verifyCheckTask();
  // Nothing is collected from this workspace: the artifacts folder is never written.
  const prepared = await isolation.prepare(task, slot, os.tmpdir(), signal);
  try {
    const paths = prepared.sandbox ?? { writable: [prepared.cwd], protect: [], protectAfter: [path.join(prepared.cwd, '.git')] };
    const boardFolder = options.boardFolder ? [options.boardFolder] : [];
    const scope = { ...paths, cwd: prepared.cwd, protectAfter: [...(paths.protectAfter ?? []), ...boardFolder] };
    const active = options.sandbox.active;
    const sandbox = active ? createCommandSandbox(active, scope, { env: { ...process.env, ...options.env } }) : undefined;
    const ctx = { task, cwd: prepared.cwd, boardRoot: options.boardFolder, signal, log: (chunk: string) => log(chunk.trimEnd()), env: options.env, sandbox };
    log('Checking that the verify command passes before any change...');
    return await verifyFailsBeforeAnyChange(verify, ctx, config.env).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  } finally {
    await isolation.abandon(task, slot, prepared, 'the verify check before the run').catch(() => undefined);
  }
}
