// Fault injection for crash-consistency tests: SWARM_FAULT names steps (comma-separated) at which
// the process kills itself with SIGKILL, exactly as a crash would, with no cleanup.

export type FaultStep =
  | 'post:after-tmp-write'
  | 'post:after-rename'
  | 'claim:after-rename'
  | 'claim:after-lease'
  | 'complete:after-result-write'
  | 'complete:after-rename'
  | 'fail:after-error-write'
  | 'fail:after-rename'
  | 'map:after-parent'
  | 'map:after-first-child'
  | 'child:before-marker'
  | 'parent:before-promote'
  | 'reclaim:after-error-write'
  | 'cancel:after-rename'
  | 'apply:after-records'
  | 'apply:after-a-file'
  | 'undo:after-a-file';

const armed = new Set((process.env.SWARM_FAULT ?? '').split(',').map((step) => step.trim()).filter(Boolean));

export function faultPoint(step: FaultStep): void {
  if (armed.size > 0 && armed.has(step)) process.kill(process.pid, 'SIGKILL');
}
