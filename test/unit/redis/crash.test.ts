// kill -9 between the Redis board's commit (our script) and BullMQ's move, at every such step: the
// next sweep rolls the recorded change forward, nothing is lost and nothing happens twice.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawn } from 'child_process';
import { Queue } from 'bullmq';
import { openBoard } from '../../../src/core/board/open';
import type { Board } from '../../../src/core/board/interface';
import type { Task } from '../../../src/core/board/types';
import { startRedis, type RedisServer } from '../../harness/redis';

const fixture = path.join(__dirname, 'fixtures', 'fault-scenario.ts');
let redis: RedisServer;
let counter = 0;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

function runVictim(url: string, scenario: string, step: string): Promise<{ signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, url, scenario], { env: { ...process.env, SWARM_FAULT: step } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (_code, signal) => resolve({ signal, output }));
  });
}

/** BullMQ's own view of a job: where the queue has it. */
async function bullState(board: string, id: string): Promise<string> {
  const queue = new Queue('q', { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: `{swarm:${board}}` });
  try {
    return await queue.getJobState(id);
  } finally {
    await queue.close();
  }
}

async function until<T>(what: string, board: Board, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await board.reclaimExpired();
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Case {
  step: string;
  scenario: string;
  seed(board: Board): Promise<void>;
  expect(board: Board, name: string, seeded: Task[]): Promise<void>;
}

const seedOne = async (board: Board): Promise<void> => void (await board.post({ title: 'acknowledged', maxAttempts: 3 }));
const only = async (board: Board): Promise<Task> => (await board.list()).tasks.find((task) => task.title === 'acknowledged')!;
const completedEvents = async (board: Board): Promise<number> => (await board.readEvents()).events.filter((e) => e.type === 'completed').length;

const cases: Case[] = [
  {
    step: 'redis:post:after-record',
    scenario: 'post',
    seed: async () => undefined,
    expect: async (board, name) => {
      const task = (await board.list()).tasks[0];
      assert.equal(task.title, 'posted by the victim');
      const claim = await until('the recorded post to be handed to BullMQ', board, () => board.claim({ agent: 'after' }));
      assert.equal(claim.task.id, task.id);
      assert.equal(await bullState(name, task.id), 'active');
    },
  },
  {
    step: 'redis:claim:after-bullmq',
    scenario: 'claim',
    seed: seedOne,
    expect: async (board) => {
      const claim = await until('the half-claimed task to come back', board, () => board.claim({ agent: 'after' }));
      assert.equal(claim.task.title, 'acknowledged');
      assert.equal(claim.task.attempts, 1, 'a claim that was never recorded does not count');
      assert.deepEqual(await board.errors(claim.task.id), []);
    },
  },
  {
    step: 'redis:finish:after-commit',
    scenario: 'complete',
    seed: seedOne,
    expect: async (board, name) => {
      const task = (await board.get((await only(board)).id))!;
      assert.equal(task.status, 'done', 'the committed completion stands at once');
      assert.deepEqual(task.result, { answer: 42 });
      // BullMQ drops a completed job (our record keeps it): gone from its queue means it was told.
      await until('BullMQ to be told', board, async () => (['completed', 'unknown'].includes(await bullState(name, task.id)) ? true : undefined));
      assert.equal(await board.claim({ agent: 'after' }), undefined, 'never run again');
      assert.equal(await completedEvents(board), 1);
      assert.deepEqual(await board.errors(task.id), []);
    },
  },
  {
    step: 'redis:finish:after-commit',
    scenario: 'fail',
    seed: seedOne,
    expect: async (board) => {
      const failed = (await board.get((await only(board)).id))!;
      assert.equal(failed.status, 'pending');
      assert.ok(failed.notBefore, 'scheduled for retry');
      assert.equal((await board.errors(failed.id))[0].message, 'transient trouble');
      const retry = await until('the retry', board, () => board.claim({ agent: 'after' }));
      assert.equal(retry.task.id, failed.id);
      assert.equal(retry.task.attempts, 2);
      assert.ok(Date.now() >= failed.notBefore!, 'not before its retry time');
    },
  },
  {
    step: 'redis:cancel:after-commit',
    scenario: 'cancel',
    seed: seedOne,
    expect: async (board, name, seeded) => {
      assert.equal((await board.get(seeded[0].id))!.status, 'cancelled');
      assert.equal(await board.claim({ agent: 'after' }), undefined, 'the cancelled task is not run');
      await until('BullMQ to drop the job', board, async () => ((await bullState(name, seeded[0].id)) === 'unknown' ? true : undefined));
    },
  },
];

describe('Redis board crash consistency (kill -9 between our commit and BullMQ)', { timeout: 300_000 }, () => {
  for (const testCase of cases) {
    it(`rolls forward after a crash at ${testCase.step} (${testCase.scenario})`, async () => {
      const name = `crash-${++counter}`;
      const url = redis.url(0, name);
      const board = await openBoard(url, { sweepIntervalMs: 50, postRepairAgeMs: 200 });
      try {
        await testCase.seed(board);
        const seeded = (await board.list()).tasks;
        const victim = await runVictim(url, testCase.scenario, testCase.step);
        assert.equal(victim.signal, 'SIGKILL', `the victim should die at ${testCase.step}: ${victim.output}`);
        await testCase.expect(board, name, seeded);
        const stats = await board.stats();
        const total = Object.values(stats.counts).reduce((sum, count) => sum + count, 0);
        assert.equal(total, (await board.list()).total, 'every task in exactly one status');
      } finally {
        await board.close();
      }
    });
  }
});
