import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiter, withPermit } from '../../../src/core/ratelimit/limiter';
import type { Permit } from '../../../src/core/ratelimit/types';

/** Resolves to true if `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true, () => true), sleep(ms).then(() => false)]);
}

test('concurrency caps permits in flight', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 2 } });
  const first = await limiter.acquire('api');
  const second = await limiter.acquire('api');
  const third = limiter.acquire('api');
  assert.equal(await settlesWithin(third, 150), false, 'a third permit must wait for a free slot');
  assert.deepEqual(pick(limiter.state('api')[0]), { pending: 1, running: 2 });
  first.release({ status: 200 });
  const granted = await third;
  assert.deepEqual(pick(limiter.state('api')[0]), { pending: 0, running: 2 });
  second.release();
  granted.release();
  assert.equal(limiter.state('api')[0].running, 0);
  assert.equal(limiter.state('api')[0].granted, 3);
});

test('endpoints are limited independently', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  const held = await limiter.acquire('a');
  assert.equal(await settlesWithin(limiter.acquire('b').then((permit) => permit.release()), 500), true);
  held.release();
});

test('interval cap spreads request starts over intervals', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 10, intervalCap: 2, intervalMs: 500 } });
  const start = Date.now();
  const grantTimes = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const permit = await limiter.acquire('api');
      const at = Date.now() - start;
      permit.release({ status: 200 });
      return at;
    }),
  );
  grantTimes.sort((a, b) => a - b);
  assert.ok(grantTimes[1] < 400, `first two start at once: ${grantTimes}`);
  assert.ok(grantTimes[2] >= 400, `third waits for the next interval: ${grantTimes}`);
  assert.ok(grantTimes[4] >= 900, `fifth waits two intervals: ${grantTimes}`);
  assert.ok(grantTimes[4] < 5_000, `but not forever: ${grantTimes}`);
});

test('a 429 with Retry-After pauses the endpoint for that long', async () => {
  const limiter = new RateLimiter();
  const permit = await limiter.acquire('api');
  const releasedAt = Date.now();
  permit.release({ status: 429, retryAfterMs: 700 });
  const state = limiter.state('api')[0];
  assert.ok(state.pausedUntil !== undefined && state.pausedUntil >= releasedAt + 650, 'paused until the advised time');
  assert.equal(state.recent429s, 1);
  const next = await limiter.acquire('api');
  const waited = Date.now() - releasedAt;
  assert.ok(waited >= 650, `waited only ${waited} ms`);
  assert.ok(waited < 5_000, `waited ${waited} ms`);
  next.release({ status: 200 });
  assert.equal(limiter.state('api')[0].pausedUntil, undefined);
});

test('consecutive 429s without Retry-After back off exponentially within jitter bounds', async () => {
  const clock = 1_000_000;
  let randomValue = 0;
  const limiter = new RateLimiter({
    backoff: { baseMs: 40, capMs: 1_000, multiplier: 2, jitter: 0.5 },
    now: () => clock,
    random: () => randomValue,
  });
  const expectedUndithered = [40, 80, 160, 320];
  for (const [index, undithered] of expectedUndithered.entries()) {
    randomValue = index % 2 === 0 ? 0 : 0.999;
    const permit = await limiter.acquire('api');
    permit.release({ status: 429 });
    const state = limiter.state('api')[0];
    assert.equal(state.consecutive429s, index + 1);
    const delay = (state.pausedUntil ?? clock) - clock;
    assert.ok(delay >= undithered * 0.5 && delay <= undithered, `round ${index + 1}: delay ${delay} outside [${undithered / 2}, ${undithered}]`);
  }
  const permit = await limiter.acquire('api');
  permit.release({ status: 200 });
  assert.equal(limiter.state('api')[0].consecutive429s, 0, 'a success resets the streak');
});

test('429s from one burst of concurrent requests count once', async () => {
  const limiter = new RateLimiter({ backoff: { baseMs: 100, jitter: 0 } });
  const permits: Permit[] = await Promise.all([limiter.acquire('api'), limiter.acquire('api'), limiter.acquire('api')]);
  for (const permit of permits) permit.release({ status: 429 });
  assert.equal(limiter.state('api')[0].consecutive429s, 1);
  assert.equal(limiter.state('api')[0].recent429s, 3);
});

test('an aborted waiter leaves the queue at once and takes no slot', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  const held = await limiter.acquire('api');
  const controller = new AbortController();
  const waiting = limiter.acquire('api', controller.signal);
  controller.abort(new Error('task cancelled'));
  await assert.rejects(waiting, /task cancelled/);
  assert.equal(limiter.state('api')[0].pending, 0);
  const next = limiter.acquire('api');
  held.release();
  (await next).release();
  assert.equal(limiter.state('api')[0].running, 0);
});

test('aborting after the grant releases the permit', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  const controller = new AbortController();
  await limiter.acquire('api', controller.signal);
  controller.abort();
  assert.equal(limiter.state('api')[0].running, 0);
  (await limiter.acquire('api')).release();
});

test('pause() holds an endpoint until the given time', async () => {
  const limiter = new RateLimiter();
  const start = Date.now();
  limiter.pause('claude-cli', start + 400);
  (await limiter.acquire('claude-cli')).release();
  assert.ok(Date.now() - start >= 350);
});

test('withPermit releases with the reported outcome even when the work throws', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  await assert.rejects(
    withPermit(limiter, 'api', undefined, async (report) => {
      report({ status: 429, retryAfterMs: 300 });
      throw new Error('rate limited');
    }),
  );
  const state = limiter.state('api')[0];
  assert.equal(state.running, 0);
  assert.ok(state.pausedUntil !== undefined);
});

test('dispose rejects waiters with a message', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  await limiter.acquire('api');
  const waiting = limiter.acquire('api');
  limiter.dispose();
  await assert.rejects(waiting, /rate limiter was stopped/);
});

function pick(state: { pending: number; running: number }): { pending: number; running: number } {
  return { pending: state.pending, running: state.running };
}
