// What the extension's views say about the sandbox and about results flagged without one (pure
// view logic, no VS Code needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Task } from '../../../src/core/board/types';
import { poolRows, sandboxRow } from '../../../src/extension/logic/poolView';
import { resultWarnings, taskDescription, taskIcon, taskTooltip } from '../../../src/extension/logic/taskTree';
import type { PoolStats } from '../../../src/core/pool';

const doneTask = (result: unknown): Task => ({ id: 't1', title: 'fix', type: 'fix', prompt: '', files: [], priority: 0, payload: undefined, status: 'done', attempts: 1, maxAttempts: 3, createdAt: 0, updatedAt: 10, result });

test('a done task with warnings: warning icon, count in the description, each warning in the tooltip', () => {
  const warned = doneTask({ durationMs: 5, warnings: ['Files in your checkout changed: a.ts.', "The repository's git configuration changed."] });
  assert.deepEqual(resultWarnings(warned).length, 2);
  assert.equal(taskIcon(warned), 'warning');
  assert.match(taskDescription(warned, 100), /^⚠ 2 warnings · /);
  assert.match(taskTooltip(warned), /⚠ Files in your checkout changed: a\.ts\./);
  const clean = doneTask({ durationMs: 5 });
  assert.equal(taskIcon(clean), 'pass');
  assert.doesNotMatch(taskDescription(clean, 100), /warning/);
  assert.deepEqual(resultWarnings(doneTask({ warnings: 'not a list' })), []);
});

test('a pending task no runner could serve yet says which runner it waits for (description and tooltip)', () => {
  const waiting: Task = { ...doneTask(undefined), status: 'pending', attempts: 0, waitingForRunner: { labels: ['gpu'], repository: 'github.com/a/b' } };
  assert.equal(taskDescription(waiting, 100), 'waiting for a runner with gpu');
  assert.match(taskTooltip(waiting), /Waiting for a runner with the label gpu for github\.com\/a\/b: no runner that asked so far could serve it\./);
  assert.equal(taskDescription({ ...waiting, waitingForRunner: { labels: [] } }, 100), 'waiting for a runner');
});

test('the Pool view has a sandbox row: the tool and network, or why there is none', () => {
  assert.deepEqual(sandboxRow({ mode: 'auto', active: true, tool: 'bwrap', network: false }), {
    id: 'sandbox',
    label: 'Sandbox: bubblewrap',
    description: 'network off',
    tooltip: 'Sandbox: bubblewrap, network off; commands write only their worktree.',
    icon: 'shield',
  });
  const none = sandboxRow({ mode: 'auto', active: false, network: true, reason: 'bubblewrap (bwrap) is not installed' });
  assert.equal(none.label, 'No sandbox');
  assert.equal(none.icon, 'warning');
  assert.equal(none.description, 'bubblewrap (bwrap) is not installed');
  const stats = { busy: 0, maxAgents: 2, total: 0, tasksDone: 0, tasksFailed: 0, mode: 'pool', running: true, agents: [], limiters: [], sandbox: { mode: 'off', active: false, network: true, reason: 'off' } } as unknown as PoolStats;
  assert.ok(poolRows(stats, 0).some((row) => row.id === 'sandbox' && row.label === 'No sandbox'));
});
