// Fault injection for crash-consistency tests: SWARM_FAULT names steps (comma-separated) at which
// the process kills itself with SIGKILL, exactly as a crash would, with no cleanup.

export type FaultStep =
  | 'post:after-tmp-write'
  | 'post:after-commit'
  | 'post:after-first-rename'
  | 'post:after-rename'
  | 'post:after-events'
  | 'claim:after-rename'
  | 'claim:after-lease'
  | 'claim:after-lease-record'
  | 'complete:after-result-write'
  | 'complete:after-rename'
  | 'fail:after-error-write'
  | 'fail:after-rename'
  | 'map:after-tmp-write'
  | 'map:after-commit'
  | 'map:after-parent'
  | 'map:after-first-child'
  | 'map:after-rename'
  | 'map:after-events'
  | 'child:before-marker'
  | 'parent:before-promote'
  | 'reclaim:after-error-write'
  | 'cancel:after-rename'
  | 'cancel:after-first-child'
  | 'requeue:before-rename'
  | 'requeue:after-rename'
  | 'apply:after-records'
  | 'apply:after-a-file'
  | 'undo:after-a-file'
  | 'park:after-index'
  | 'park:after-tree'
  | 'adopt:after-claim'
  | 'adopt:after-git-file'
  | 'adopt:after-tree';

/** Every board step, for tests that kill a board command at each of them (apply/undo steps are tested by the patch suite). */
export const FAULT_STEPS: readonly FaultStep[] = [
  'post:after-tmp-write', 'post:after-commit', 'post:after-first-rename', 'post:after-rename', 'post:after-events',
  'claim:after-rename', 'claim:after-lease', 'complete:after-result-write', 'complete:after-rename',
  'fail:after-error-write', 'fail:after-rename',
  'map:after-tmp-write', 'map:after-commit', 'map:after-parent', 'map:after-first-child', 'map:after-rename', 'map:after-events',
  'child:before-marker', 'parent:before-promote', 'reclaim:after-error-write',
  'cancel:after-rename', 'cancel:after-first-child', 'requeue:before-rename', 'requeue:after-rename',
];

const armed = new Set((process.env.SWARM_FAULT ?? '').split(',').map((step) => step.trim()).filter(Boolean));

export function faultPoint(step: FaultStep): void {
  if (armed.size > 0 && armed.has(step)) process.kill(process.pid, 'SIGKILL');
}
