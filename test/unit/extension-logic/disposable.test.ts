// DisposableBase: what an extension object registers is disposed once, newest first, even when
// one of the items throws; an item registered after dispose() is disposed at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DisposableBase, type DisposableLike } from '../../../src/extension/disposable';

class Owner extends DisposableBase {
  add<T extends DisposableLike>(item: T): T {
    return this.register(item);
  }
  get ended(): boolean {
    return this.isDisposed;
  }
}

function recorder(log: string[], name: string, fail = false): DisposableLike {
  return {
    dispose: () => {
      log.push(name);
      if (fail) throw new Error(`${name} failed`);
    },
  };
}

describe('DisposableBase', () => {
  it('disposes what was registered once, newest first', () => {
    const log: string[] = [];
    const owner = new Owner();
    owner.add(recorder(log, 'first'));
    owner.add(recorder(log, 'second'));
    owner.dispose();
    owner.dispose();
    assert.deepEqual(log, ['second', 'first']);
    assert.equal(owner.ended, true);
  });

  it('disposes every item when one throws, then rethrows the first failure', () => {
    const log: string[] = [];
    const owner = new Owner();
    owner.add(recorder(log, 'first'));
    owner.add(recorder(log, 'broken', true));
    owner.add(recorder(log, 'third'));
    assert.throws(() => owner.dispose(), /broken failed/);
    assert.deepEqual(log, ['third', 'broken', 'first']);
  });

  it('disposes an item registered after dispose() at once', () => {
    const log: string[] = [];
    const owner = new Owner();
    owner.dispose();
    const late = recorder(log, 'late');
    assert.equal(owner.add(late), late);
    assert.deepEqual(log, ['late']);
  });
});
