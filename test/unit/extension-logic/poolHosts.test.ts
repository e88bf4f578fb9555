// The Pool view's "Other hosts on this board" row: every other host with its machine, agents and
// last heartbeat; a host whose record expired is shown as gone; this window's own pool is left out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { otherHostsRow } from '../../../src/extension/logic/poolView';
import type { HostView } from '../../../src/core/pool/status-file';

function host(partial: Partial<HostView> & Pick<HostView, 'hostPid'>): HostView {
  const now = 1_000_000;
  return {
    boardRoot: 'redis://127.0.0.1:6379/0?board=team',
    mode: 'pool',
    running: true,
    minAgents: 0,
    maxAgents: 4,
    busy: 0,
    idle: 0,
    total: 0,
    agents: [],
    tasksDone: 0,
    tasksFailed: 0,
    busyMs: 0,
    startedAt: now - 60_000,
    limiters: [],
    updatedAt: now - 2_000,
    workspaceRoot: '/work/clone',
    isolation: 'worktree',
    executor: 'command',
    gone: false,
    ...partial,
  };
}

test('other hosts: live ones with their agents and heartbeat, gone ones marked, this window left out', () => {
  const now = 1_000_000;
  const hosts = [
    host({ hostPid: 42, host: 'laptop' }),
    host({
      hostPid: 7,
      host: 'build-1',
      busy: 1,
      total: 1,
      system: { cpuPercent: 55, totalMemBytes: 8 * 1024 ** 3, availableMemBytes: 6 * 1024 ** 3, loadAverage: [1, 1, 1], cpuCount: 2 } as HostView['system'],
      agents: [{ id: 'h7-a1', pid: 70, state: 'busy', currentTask: { id: 't1', title: 'fix a.ts', attempt: 1, startedAt: now - 5_000 }, tasksDone: 3, tasksFailed: 0, startedAt: now - 50_000 }],
    }),
    host({ hostPid: 9, host: 'build-2', gone: true, updatedAt: now - 90_000 }),
  ];
  const row = otherHostsRow(hosts, { pid: 42, host: 'laptop' }, now);
  assert.ok(row);
  assert.equal(row.description, '1 running · 1 gone');
  assert.deepEqual(row.children?.map((child) => child.label), ['build-1 · pid 7', 'build-2 · pid 9']);
  const [live, gone] = row.children ?? [];
  assert.equal(live.description, '1/4 busy · CPU 55% · memory 2 GB / 8 GB · last heartbeat 2 s ago');
  assert.equal(live.children?.[0].label, 'h7-a1: fix a.ts');
  assert.match(String(gone.description), /^gone · last heartbeat \S+.* ago$/);
  assert.equal(gone.children, undefined, 'a gone host lists no agents');
  assert.equal(otherHostsRow([host({ hostPid: 42, host: 'laptop' })], { pid: 42, host: 'laptop' }, now), undefined, 'only this window: no row');
});
