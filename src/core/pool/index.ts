// The agent pool's public surface (see docs/pool.md).
export { AgentPool } from './pool';
export type { PoolOptions, ResourceLimits, IsolationChoice } from './pool';
export type { AgentInfo, AgentState, AgentCurrentTask, PoolEvent, PoolMode, PoolStats, SystemResources } from './types';
export type { TaskIsolation, PreparedWorkspace, CollectedChanges } from './isolation';
export { createNoIsolation } from './isolation-modes';
export { readHostStatuses, listHostStatuses, liveHostStatuses, hostStatusFile, HOST_STATUS_TTL_MS, type HostStatus, type HostView } from './status-file';
export { boardAccessOf, BOARD_PASSWORD_ENV, type BoardAccess } from './boardAccess';
export type { TaskResult } from './worker';
export { buildPool, poolOptionsFromConfig, watchRunnerServesFor, resolveExecutorChoice, ExecutorChoiceError, type PoolHost, type PoolRunChoice, type ExecutorRequest } from './fromConfig';
