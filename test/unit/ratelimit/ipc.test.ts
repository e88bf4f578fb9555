import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiter } from '../../../src/core/ratelimit/limiter';
import { createLimiterIpcClient, isLimiterMessage, serveLimiterOverIpc, type LimiterMessage } from '../../../src/core/ratelimit/ipc';

interface TestEvent { test: string; tag?: string; at?: number; message?: string }

/** Collects the child's test events and lets the test wait for a specific one. */
function eventsOf(child: ChildProcess): (test: string, tag?: string, timeoutMs?: number) => Promise<TestEvent> {
  const seen: TestEvent[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (message: TestEvent) => {
    if (typeof message === 'object' && message !== null && 'test' in message) {
      seen.push(message);
      for (const wake of waiters.splice(0)) wake();
    }
  });
  return async (testName, tag, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = seen.findIndex((event) => event.test === testName && event.tag === tag);
      if (index >= 0) return seen.splice(index, 1)[0];
      if (Date.now() > deadline) throw new Error(`no ${testName} ${tag ?? ''} from the child within ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), sleep(100)]);
    }
  };
}

test('limiter permits cross a real child-process IPC channel', { timeout: 60_000 }, async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  const child = fork(path.join(__dirname, 'fixtures', 'limiterChild.ts'), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const server = serveLimiterOverIpc(
    limiter,
    (message) => child.send(message),
    (listener) => {
      child.on('message', listener);
      return () => child.off('message', listener);
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => server.dispose());
  const next = eventsOf(child);
  try {
    await next('ready', undefined, 30_000);

    child.send({ test: 'acquire', tag: 'A', endpoint: 'openai' });
    await next('granted', 'A');
    child.send({ test: 'acquire', tag: 'B', endpoint: 'openai' });
    await sleep(300);
    assert.deepEqual(counts(limiter), { pending: 1, running: 1 }, 'B waits in the host while A is held');

    const releasedAt = Date.now();
    child.send({ test: 'release', tag: 'A', outcome: { status: 429, retryAfterMs: 600 } });
    const grantedB = await next('granted', 'B');
    assert.ok((grantedB.at ?? 0) - releasedAt >= 500, 'the Retry-After reported by the child paused the endpoint');
    assert.equal(limiter.state('openai')[0].recent429s, 1);

    child.send({ test: 'acquire', tag: 'C', endpoint: 'openai', abortAfterMs: 200 });
    const rejectedC = await next('rejected', 'C');
    assert.match(rejectedC.message ?? '', /abort|timeout/i);
    await sleep(200);
    assert.deepEqual(counts(limiter), { pending: 0, running: 1 }, 'the cancel reached the host');

    // The child exits holding B: disposing its server must give the slot back.
    child.send({ test: 'exit' });
    await exited;
    assert.deepEqual(counts(limiter), { pending: 0, running: 0 });
    const permit = await limiter.acquire('openai');
    permit.release();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('the IPC client and server work over any transport and ignore foreign messages', async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  const toServer = new Set<(message: unknown) => void>();
  const toClient = new Set<(message: unknown) => void>();
  const subscribe = (listeners: Set<(message: unknown) => void>) => (listener: (message: unknown) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  const wire: LimiterMessage[] = [];
  const server = serveLimiterOverIpc(limiter, (message) => {
    wire.push(message);
    queueMicrotask(() => toClient.forEach((listener) => listener(message)));
  }, subscribe(toServer));
  const client = createLimiterIpcClient((message) => {
    wire.push(message);
    queueMicrotask(() => toServer.forEach((listener) => listener(message)));
  }, subscribe(toClient));
  toServer.forEach((listener) => listener({ type: 'heartbeat', id: 7 }));
  const permit = await client.acquire('anthropic');
  assert.equal(limiter.state('anthropic')[0].running, 1);
  const waiting = client.acquire('anthropic');
  client.dispose('channel closed');
  await assert.rejects(waiting, /channel closed/);
  permit.release({ status: 200 });
  await sleep(10);
  assert.ok(wire.every(isLimiterMessage));
  server.dispose();
  assert.equal(limiter.state('anthropic')[0].running, 0);
});

function counts(limiter: RateLimiter): { pending: number; running: number } {
  const [state] = limiter.state('openai');
  return { pending: state.pending, running: state.running };
}
