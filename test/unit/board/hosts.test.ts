// Host records on the file board, read by one reader for the views' list (FileHosts.list) and for
// the check for builds of the older format (olderUsers.ts): the expiry of records written before
// they carried one, damaged records, and the removal of records gone for long.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { FileHosts, readHostRecords } from '../../../src/core/board/hosts';
import { HOST_GONE_KEPT_MS } from '../../../src/core/board/interface';
import { removeDir, tempDir } from './helpers';

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) removeDir(dir);
  dirs = [];
});

function boardWithRecords(records: Record<string, string>): string {
  const root = tempDir();
  dirs.push(root);
  fs.mkdirSync(path.join(root, 'hosts'));
  for (const [name, text] of Object.entries(records)) fs.writeFileSync(path.join(root, 'hosts', name), text);
  return root;
}

describe('host records on the file board', () => {
  it('a record without expiresAt (an older build) is live for 30 s after its last rewrite', () => {
    const now = Date.now();
    const root = boardWithRecords({
      '11.json': JSON.stringify({ hostPid: 11, updatedAt: now - 1_000 }),
      '12.json': JSON.stringify({ hostPid: 12, updatedAt: now - 31_000 }),
    });
    assert.deepEqual(new FileHosts(root).list().map((entry) => [entry.id, entry.gone]), [['11', false], ['12', true]]);
    const expiries = new Map(readHostRecords(root).map((record) => [record.id, record.expiresAt]));
    assert.deepEqual([expiries.get('11'), expiries.get('12')], [now + 29_000, now - 1_000]);
  });

  it('skips damaged records and files that are not named by a host id, and lists none of a missing folder', () => {
    const root = boardWithRecords({
      '21.json': JSON.stringify({ hostPid: 21, expiresAt: Date.now() + 10_000 }),
      '22.json': '{"hostPid": 2', // cut short
      '23.json': '[1, 2]',
      'not a host id.json': JSON.stringify({ expiresAt: Date.now() + 10_000 }),
      '24.json.tmp': JSON.stringify({ expiresAt: Date.now() + 10_000 }),
    });
    assert.deepEqual(readHostRecords(root).map((record) => record.id), ['21']);
    assert.deepEqual(new FileHosts(root).list().map((entry) => entry.id), ['21']);
    assert.deepEqual(readHostRecords(path.join(root, 'missing')), []);
    assert.deepEqual(new FileHosts(path.join(root, 'missing')).list(), []);
  });

  it('the list removes a record gone for longer than HOST_GONE_KEPT_MS; reading for the format check removes nothing', () => {
    const now = Date.now();
    const root = boardWithRecords({
      '31.json': JSON.stringify({ hostPid: 31, expiresAt: now - HOST_GONE_KEPT_MS - 60_000 }),
      '32.json': JSON.stringify({ hostPid: 32, expiresAt: now - 60_000 }),
    });
    assert.deepEqual(readHostRecords(root).map((record) => record.id).sort(), ['31', '32']);
    assert.ok(fs.existsSync(path.join(root, 'hosts', '31.json')), 'reading alone keeps every record');
    assert.deepEqual(new FileHosts(root).list().map((entry) => [entry.id, entry.gone]), [['32', true]]);
    assert.deepEqual(fs.readdirSync(path.join(root, 'hosts')), ['32.json']);
  });
});
