// Isolation choices the pool makes by name, and the agent-side proxy that asks the host to run the
// pool's isolation (one instance per host, so worktree slots are administered in one place).
import type { Task } from '../board/types';
import type { CollectedChanges, PreparedWorkspace, TaskIsolation } from './isolation';
import type { IsolationRequest } from './protocol';

/** Runs tasks in the workspace itself and collects nothing: for benchmarks and pure commands. */
export function createNoIsolation(workspaceRoot: string): TaskIsolation {
  return {
    kind: 'none',
    prepare: async () => ({ cwd: workspaceRoot }),
    collect: async () => ({ files: [] }),
    abandon: async () => undefined,
  };
}

/**
 * Sends isolation requests to the host and waits for the answer. `signal` (prepare only) asks the
 * host to stop early (a setup command is ended); the answer is still awaited, so a workspace the
 * host finished preparing anyway is handed back to the caller, who abandons it.
 */
export type IsolationCall = (request: IsolationRequest, signal?: AbortSignal) => Promise<PreparedWorkspace | CollectedChanges | null>;

export function createIsolationProxy(call: IsolationCall): Pick<TaskIsolation, 'prepare' | 'collect' | 'abandon' | 'keepBase'> {
  return {
    prepare: async (task: Task, slot: string, artifactsDir: string, signal?: AbortSignal) => (await call({ op: 'prepare', task, slot, artifactsDir }, signal)) as PreparedWorkspace,
    collect: async (task: Task, slot: string, prepared: PreparedWorkspace, artifactsDir: string) =>
      (await call({ op: 'collect', task, slot, prepared, artifactsDir })) as CollectedChanges,
    abandon: async (task: Task, slot: string, prepared: PreparedWorkspace, reason: string) => {
      await call({ op: 'abandon', task, slot, prepared, reason });
    },
    keepBase: async (taskIds: string[], base: string) => {
      await call({ op: 'keep-base', taskIds, base });
    },
  };
}

/** The host side: runs one isolation request; `signal` aborts a prepare (its setup command included). */
export async function runIsolationRequest(isolation: TaskIsolation, request: IsolationRequest, signal?: AbortSignal): Promise<PreparedWorkspace | CollectedChanges | null> {
  switch (request.op) {
    case 'prepare':
      return isolation.prepare(request.task, request.slot, request.artifactsDir, signal);
    case 'collect':
      return isolation.collect(request.task, request.slot, request.prepared, request.artifactsDir);
    case 'abandon':
      await isolation.abandon(request.task, request.slot, request.prepared, request.reason);
      return null;
    case 'keep-base':
      await isolation.keepBase?.(request.taskIds, request.base);
      return null;
  }
}
