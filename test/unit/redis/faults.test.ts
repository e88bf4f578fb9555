// The Redis board when its server dies: redis-server with AOF (`appendfsync always`) is killed with
// SIGKILL mid-run and restarted, twice, while worker processes drain the board. No acknowledged
// completion may revert and no task may be completed twice.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { openBoard } from '../../../src/core/board/open';
import type { Board } from '../../../src/core/board/interface';
import type { BoardEvent } from '../../../src/core/board/types';
import { startRedis, type RedisServer } from '../../harness/redis';

const worker = path.join(__dirname, 'fixtures', 'worker.ts');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-redis-faults-'));
let redis: RedisServer | undefined;
after(async () => {
  await redis?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function acknowledged(outputs: string[]): string[] {
  return outputs.flatMap((out) => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter(Boolean) : []));
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function allEvents(board: Board): Promise<BoardEvent[]> {
  const events: BoardEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const batch = await board.readEvents(cursor, 10_000);
    if (batch.events.length === 0) return events;
    events.push(...batch.events);
    cursor = batch.cursor;
  }
}

describe('Redis board: the server crashes mid-run', { timeout: 600_000 }, () => {
  it('killed and restarted with AOF twice: no acknowledged completion reverts, no task is completed twice', async () => {
    redis = await startRedis({ aof: true });
    const url = redis.url(0, 'crash');
    const board = await openBoard(url);
    const posted = await board.postMany(Array.from({ length: 600 }, (_, i) => ({ title: `t${i}`, files: [`f${i % 40}.ts`] })));
    await board.close();
    const outputs = [0, 1, 2, 3].map((i) => path.join(scratch, `ack-${i}.txt`));
    const workers = outputs.map((out, i) => {
      const child = spawn(process.execPath, ['--import', 'tsx', worker, 'drain', url, `survivor-${i}`, out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
    });
    for (const threshold of [120, 320]) {
      await waitUntil(`${threshold} completions`, () => acknowledged(outputs).length >= threshold);
      const ackedBefore = new Set(acknowledged(outputs));
      await redis.crash();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await redis.restart();
      const check = await openBoard(url);
      for (const id of ackedBefore) assert.equal((await check.get(id))?.status, 'done', `acknowledged completion of ${id} survived the crash`);
      await check.close();
    }
    for (const result of await Promise.all(workers)) assert.equal(result.code, 0, result.stderr);
    const acked = acknowledged(outputs);
    assert.equal(new Set(acked).size, acked.length, 'no completion acknowledged twice');
    const final = await openBoard(url);
    try {
      const stats = await final.stats();
      assert.equal(stats.counts.done, 600);
      for (const id of acked) assert.equal((await final.get(id))!.status, 'done');
      const completed = new Map<string, number>();
      for (const event of (await allEvents(final)).filter((e) => e.type === 'completed')) completed.set(event.taskId!, (completed.get(event.taskId!) ?? 0) + 1);
      assert.equal(completed.size, 600);
      assert.ok([...completed.values()].every((count) => count === 1), 'every task completed exactly once');
      assert.deepEqual([...completed.keys()].sort(), posted.map((task) => task.id).sort());
    } finally {
      await final.close();
    }
  });
});
