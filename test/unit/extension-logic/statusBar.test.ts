import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusBarText } from '../../../src/extension/logic/taskTree';

test('the status bar spins only while agents work', () => {
  assert.equal(statusBarText({ done: 3, total: 10, busy: 2, running: true }), '$(sync~spin) 3/10 · 2 busy');
  assert.equal(statusBarText({ done: 10, total: 10, busy: 0, running: true }), '$(organization) 10/10 · idle');
  assert.equal(statusBarText({ done: 10, total: 10, busy: 0, running: false }), '$(organization) 10/10');
  assert.equal(statusBarText({ done: 0, total: 0, busy: 0, running: false }), '$(organization) Swarm');
});
