// Closing a Redis board whose server went away lets the process end at once: nothing the board
// started (a follower's blocked XREAD, BullMQ's connection, reconnection attempts) keeps it alive.
// A real redis-server killed with SIGKILL; the board in a child process that exits on its own.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as path from 'path';
import { startRedis, type RedisServer } from '../../harness/redis';

const servers: RedisServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

const FIXTURE = path.join(__dirname, 'fixtures', 'follow-then-close.ts');

describe('Redis board: close after the server went away', { timeout: 120_000 }, () => {
  it('a following process exits within seconds of closing the board, not after a command timeout', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, redis.url(0, 'close')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    const seen = (line: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (output.includes(`${line}\n`)) resolve();
        };
        child.stdout!.on('data', (chunk) => {
          output += String(chunk);
          check();
        });
        child.on('exit', () => reject(new Error(`the child exited before "${line}": ${output}`)));
        check();
      });
    const exited = new Promise<number>((resolve) => child.on('exit', () => resolve(Date.now())));
    try {
      await seen('following');
      // The follower's XREAD is in flight (it blocks 1 s at a time) when the server dies.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await redis.crash();
      await seen('lost');
      const closedAt = Date.now();
      child.stdin!.write('close\n');
      const exitMs = (await exited) - closedAt;
      assert.match(output, /closed\n/);
      // It took 15 s (ioredis kept the XREAD's command timeout running after disconnect).
      assert.ok(exitMs < 4_000, `the process exited ${exitMs} ms after closing the board`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
