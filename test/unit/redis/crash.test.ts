// kill -9 at every step of the Redis board where a process can die with a change made: between a
// post's record and its hand-over to BullMQ (the next sweep hands it over), and right after a claim,
// a completion, a failure, a cancel or a requeue committed (each one script that changed our record
// and BullMQ's job together, so BullMQ agrees at once, with no repair). Nothing is lost, nothing
// happens twice.
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
    step: 'redis:claim:after-commit',
    scenario: 'claim',
    seed: seedOne,
    expect: async (board, name) => {
      const held = (await board.get((await only(board)).id))!;
      assert.equal(held.status, 'running', 'the claim was committed');
      assert.equal(await bullState(name, held.id), 'active', 'BullMQ agrees at once');
      const claim = await until('the dead holder to be reclaimed', board, () => board.claim({ agent: 'after' }));
      assert.equal(claim.task.id, held.id);
      assert.equal(claim.task.attempts, 2, 'the dead holder had an attempt');
      assert.deepEqual((await board.errors(held.id)).map((error) => [error.kind, error.agent]), [['lease-expired', 'victim']]);
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
      // BullMQ drops a completed job (our record keeps it): gone from its queue at once.
      assert.equal(await bullState(name, task.id), 'unknown');
      assert.equal(await board.claim({ agent: 'after' }), undefined, 'never run again');
      assert.equal(await completedEvents(board), 1);
      assert.deepEqual(await board.errors(task.id), []);
    },
  },
  {
    step: 'redis:finish:after-commit',
    scenario: 'fail',
    seed: seedOne,
    expect: async (board, name) => {
      const failed = (await board.get((await only(board)).id))!;
      assert.equal(failed.status, 'pending');
      assert.ok(failed.notBefore, 'scheduled for retry');
      assert.equal(await bullState(name, failed.id), 'delayed', 'BullMQ agrees at once');
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
      assert.equal(await bullState(name, seeded[0].id), 'unknown', 'BullMQ dropped the job at once');
      assert.equal(await board.claim({ agent: 'after' }), undefined, 'the cancelled task is not run');
    },
  },
  {
    step: 'redis:requeue:after-commit',
    scenario: 'requeue',
    seed: async (board) => {
      await board.post({ title: 'acknowledged', maxAttempts: 1 });
      await board.fail((await board.claim({ agent: 'seed' }))!, 'broken', { permanent: true });
    },
    expect: async (board, name, seeded) => {
      const requeued = (await board.get(seeded[0].id))!;
      assert.equal(requeued.status, 'pending');
      assert.equal(requeued.attempts, 0);
      assert.equal(await bullState(name, requeued.id), 'prioritized', 'BullMQ agrees at once');
      const claim = (await board.claim({ agent: 'after' }))!;
      assert.equal(claim.task.id, requeued.id);
      assert.equal(claim.task.attempts, 1);
      assert.equal((await board.errors(requeued.id)).length, 1, 'the history is kept');
    },
  },
];

/** A post recorded by a process killed before its hand-over to BullMQ: pending, with no job. */
async function strandedPost(url: string, board: Board, name: string): Promise<Task> {
  const poster = await runVictim(url, 'post', 'redis:post:after-record');
  assert.equal(poster.signal, 'SIGKILL', `the poster should die after its record: ${poster.output}`);
  const task = (await board.list()).tasks[0];
  assert.equal(await bullState(name, task.id), 'unknown', 'no job yet');
  return task;
}

describe('Redis board: a post that a sweep failed to hand over is handed over by a later sweep', { timeout: 120_000 }, () => {
  it('the sweeping process is killed between the sweep and its hand-over (redis:repair:before-handover)', async () => {
    const name = `crash-${++counter}`;
    const url = redis.url(0, name);
    const board = await openBoard(url, { sweepIntervalMs: 50, postRepairAgeMs: 200 });
    try {
      const task = await strandedPost(url, board, name);
      const repairer = await runVictim(url, 'repair', 'redis:repair:before-handover');
      assert.equal(repairer.signal, 'SIGKILL', `the repairer should find the post and die before handing it over: ${repairer.output}`);
      assert.equal(await bullState(name, task.id), 'unknown', 'the repairer handed nothing over');
      const claim = await until('a later sweep to hand the post over', board, () => board.claim({ agent: 'after' }));
      assert.equal(claim.task.id, task.id);
      assert.equal(claim.task.attempts, 1);
    } finally {
      await board.close();
    }
  });

  it("the sweep's hand-over fails (its queue connection is gone): a warning, and a later sweep hands it over", async () => {
    const name = `crash-${++counter}`;
    const url = redis.url(0, name);
    const board = await openBoard(url, { sweepIntervalMs: 50, postRepairAgeMs: 200 });
    const warnings: string[] = [];
    const failing = await openBoard(url, { postRepairAgeMs: 0, onWarning: (warning) => warnings.push(warning) });
    try {
      const task = await strandedPost(url, board, name);
      // The handle's BullMQ connection is closed, so its addBulk fails; its own scripts still run.
      await (failing as unknown as { queue: { disconnect(): Promise<void> } }).queue.disconnect();
      await failing.reclaimExpired();
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0], new RegExp(`Task ${task.id} was posted, but could not be handed to the queue yet`));
      assert.equal(await bullState(name, task.id), 'unknown');
      const claim = await until('a later sweep to hand the post over', board, () => board.claim({ agent: 'after' }));
      assert.equal(claim.task.id, task.id);
      await board.complete(claim);
      assert.equal(await board.claim({ agent: 'again' }), undefined, 'handed over once, run once');
    } finally {
      await failing.close();
      await board.close();
    }
  });
});

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
