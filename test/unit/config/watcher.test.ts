import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type ConfigState, SwarmConfigWatcher } from '../../../src/core/config';

let root: string;
let watcher: SwarmConfigWatcher | undefined;
const file = (): string => path.join(root, 'swarm.config.json');

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-config-watch-'));
});
afterEach(() => {
  watcher?.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Resolves with the first state that satisfies `predicate` (generous bound: the machine is loaded). */
function nextState(subject: SwarmConfigWatcher, predicate: (state: ConfigState) => boolean, timeoutMs = 10_000): Promise<ConfigState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching config state within ${timeoutMs} ms; last: ${JSON.stringify(subject.current)}`)), timeoutMs);
    const subscription = subject.onDidChange((state) => {
      if (!predicate(state)) return;
      clearTimeout(timer);
      subscription.dispose();
      resolve(state);
    });
  });
}

describe('SwarmConfigWatcher', () => {
  it('keeps the last good configuration while an edit is invalid, and takes the fixed file', async () => {
    fs.writeFileSync(file(), '{ "pool": { "maxAgents": 2 } }');
    watcher = new SwarmConfigWatcher(root, { trusted: true, debounceMs: 30 }).watch();
    assert.equal(watcher.current.config.pool?.maxAgents, 2);

    const broken = nextState(watcher, (state) => state.errors.length > 0);
    fs.writeFileSync(file(), '{ "pool": { "maxAgents": "many" } }');
    const brokenState = await broken;
    assert.equal(brokenState.keptLastGood, true);
    assert.equal(brokenState.config.pool?.maxAgents, 2, 'the last good value stays in force');
    assert.equal(brokenState.errors[0].path, 'pool.maxAgents');

    const fixed = nextState(watcher, (state) => state.errors.length === 0);
    // Editors save by writing a temporary file and renaming it over the original.
    fs.writeFileSync(`${file()}.tmp`, '{ "pool": { "maxAgents": 5 } }');
    fs.renameSync(`${file()}.tmp`, file());
    const fixedState = await fixed;
    assert.equal(fixedState.keptLastGood, false);
    assert.equal(fixedState.config.pool?.maxAgents, 5);
  });

  it('notices a file created later and a file removed', async () => {
    watcher = new SwarmConfigWatcher(root, { trusted: true, debounceMs: 30 }).watch();
    assert.equal(watcher.current.source, 'none');
    const created = nextState(watcher, (state) => state.source === 'file');
    fs.writeFileSync(file(), '{ "defaultExecutor": "claude" }');
    assert.equal((await created).config.defaultExecutor, 'claude');
    const removed = nextState(watcher, (state) => state.source === 'none');
    fs.rmSync(file());
    assert.deepEqual((await removed).config, {});
  });

  it('re-reads with the new trust when trust is granted', () => {
    fs.writeFileSync(file(), '{ "verify": "npm test" }');
    watcher = new SwarmConfigWatcher(root, { trusted: false });
    assert.equal(watcher.current.config.verify, undefined);
    assert.equal(watcher.current.ignored[0]?.path, 'verify');
    const seen: ConfigState[] = [];
    watcher.onDidChange((state) => seen.push(state));
    watcher.setTrusted(true);
    assert.equal(watcher.current.config.verify, 'npm test');
    assert.equal(seen.length, 1);
  });
});
