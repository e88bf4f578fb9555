// The views' offline state (src/extension/logic/offline.ts): only a board out of reach makes a view
// offline; it keeps when it was last read and since when it fails, and comes back on the next read.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BoardUnavailableError } from '../../../src/core/board/interface';
import { BoardInputError } from '../../../src/core/board/types';
import { BoardReachability, isUnreachable, offlineLabel } from '../../../src/extension/logic/offline';

const lost = new BoardUnavailableError('connection-lost', 'Lost contact with the board\'s Redis server at redis://h:1/0?board=b (ECONNREFUSED); check the server.\nsecond line');
const time = (ms: number): string => `t${ms}`;

describe('BoardReachability', () => {
  it('is offline from the first unreachable read, keeps that time and the last good read, and is online again after a good read', () => {
    const reach = new BoardReachability();
    reach.seen(100);
    assert.equal(reach.state, undefined);
    assert.deepEqual(reach.failed(lost, 200), { since: 200, lastSeenAt: 100, reason: 'Lost contact with the board\'s Redis server at redis://h:1/0?board=b (ECONNREFUSED); check the server.' });
    assert.equal(reach.failed(lost, 300)?.since, 200, 'a later failure does not move the start of the outage');
    assert.equal(offlineLabel(reach.state!, time), 'Offline since t200: showing the board as last seen at t100');
    reach.seen(400);
    assert.equal(reach.state, undefined);
    assert.equal(reach.failed(new BoardUnavailableError('unreachable', 'Cannot reach'), 500)?.lastSeenAt, 400);
  });

  it('other errors (a bad request, a wrong password, a bug) do not make a view offline', () => {
    const reach = new BoardReachability();
    assert.equal(reach.failed(new BoardInputError('no such task'), 1), undefined);
    assert.equal(reach.failed(new BoardUnavailableError('auth', 'wrong password'), 1), undefined);
    assert.equal(reach.failed(new Error('boom'), 1), undefined);
    assert.equal(reach.state, undefined);
    assert.equal(isUnreachable(lost), true);
  });

  it('says so when nothing was read before the board went away', () => {
    const reach = new BoardReachability();
    assert.equal(offlineLabel(reach.failed(lost, 5)!, time), 'Offline since t5: nothing was read before');
  });
});
