// When the views open again a board that failed to open (src/extension/logic/boardOpen.ts): a damaged
// or newer marker only once the marker changes; a board an older build still uses also a few seconds
// on (it opens once that build stops, its marker unchanged), and the problem is said once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BoardFormatError, BoardInUseError } from '../../../src/core/board/board';
import { IN_USE_RETRY_MS, failedOpen, mayOpenAgain } from '../../../src/extension/logic/boardOpen';

const inUse = new BoardInUseError('The board at /w/.swarm is in use by an older Agent Swarm (board format 1) that would not see this version\'s file leases: a pool, pid 12. Stop or update it, then retry.');
const damaged = new BoardFormatError('/w/.swarm/board.json is not an Agent Swarm board marker. Move it away or point --board at another folder.');

describe('opening the views\' board again after it failed', () => {
  it('a damaged marker: not until the marker changes', () => {
    const failed = failedOpen('1:10', damaged, 1000);
    assert.equal(mayOpenAgain(failed, '1:10', 1000 + 3_600_000), false);
    assert.equal(mayOpenAgain(failed, '2:10', 1001), true);
    assert.equal(mayOpenAgain(undefined, '1:10', 0), true);
  });

  it('a board an older build uses: again a few seconds on, its marker unchanged (the older build may have stopped)', () => {
    const failed = failedOpen('1:10', inUse, 1000);
    assert.equal(mayOpenAgain(failed, '1:10', 1000 + IN_USE_RETRY_MS - 1), false, 'not at every look');
    assert.equal(mayOpenAgain(failed, '1:10', 1000 + IN_USE_RETRY_MS), true);
  });

  it('says a problem once: the same refusal again is not news, another one is', () => {
    const first = failedOpen('1:10', inUse, 1000);
    assert.equal(first.news, true);
    const again = failedOpen('1:10', inUse, 7000, first);
    assert.equal(again.news, false);
    assert.equal(failedOpen('1:10', damaged, 9000, again).news, true);
  });
});
