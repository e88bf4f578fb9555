// Process supervision: start children in their own process group, stop whole trees for sure,
// and end agents whose host died.
export { spawnSupervised, forkSupervised, mergeEnv } from './supervised';
export type { SupervisedProcess, SupervisedOptions, ForkSupervisedOptions, ExitInfo, StopResult } from './supervised';
export { killTree } from './kill-tree';
export { terminate, TerminationTimeoutError, DEFAULT_GRACE_MS, DEFAULT_KILL_WAIT_MS } from './terminate';
export type { TerminateOptions, TerminationResult, TerminationTargets } from './terminate';
export { exitWhenParentDies } from './parent-watchdog';
export type { ParentWatchdogOptions, ParentLossReason, Watchdog } from './parent-watchdog';
export { isProcessAlive, isProcessGroupAlive } from './liveness';
export { listDescendants } from './process-tree';
export { findMarkedProcesses, findProcessesInside, readEnviron, SWARM_MARKS, type MarkSearch, type ProcessInside } from './marked';
