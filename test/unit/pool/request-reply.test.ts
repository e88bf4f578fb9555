// The request/reply helper of the pool ⇄ agent IPC (request-reply.ts), over real child processes:
// replies settle the matching request, a timeout and a peer that dies reject with a typed error.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { test } from 'node:test';
import { createRequester, RequestFailedError, type Requester } from '../../../src/core/pool/request-reply';

const PEER = path.join(__dirname, 'fixtures', 'reply-peer.ts');

type Body = { op: 'echo'; value: string; delayMs?: number } | { op: 'silent' } | { op: 'die' } | { op: 'slow' };

/** A forked answering child, with a requester wired to it the way the pool wires an agent. */
async function answeringChild(timeoutMs?: number): Promise<{ child: ChildProcess; requests: Requester<Body, string> }> {
  const child = fork(PEER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const send = (id: number, body: Body): void => {
    // As the pool's agent channel does (agent-handle.ts): a closed channel throws instead of sending.
    if (!child.connected) throw new Error('the IPC channel is closed');
    child.send({ id, body });
  };
  const requests = createRequester<Body, string>(send, { peer: 'the test child', timeoutMs });
  child.on('message', (message: { id?: number; value?: string }) => {
    if (message.id !== undefined) requests.resolve(message.id, message.value as string);
  });
  child.once('exit', (code, signal) => requests.close(`it exited (${signal ?? `code ${code}`}).`));
  await once(child, 'message'); // ready
  return { child, requests };
}

function stop(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

function failedBecause(reason: 'timeout' | 'peer-gone', pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof RequestFailedError && error.reason === reason && pattern.test(error.message);
}

test('request/reply: each reply settles the request with its id, whatever the order', async () => {
  const { child, requests } = await answeringChild();
  try {
    const slow = requests.request({ op: 'echo', value: 'first, answered last', delayMs: 300 });
    const fast = requests.request({ op: 'echo', value: 'second, answered first' });
    assert.equal(await fast, 'second, answered first');
    assert.equal(requests.pending, 1);
    assert.equal(await slow, 'first, answered last');
    assert.equal(requests.pending, 0);
    assert.equal(requests.resolve(1, 'a reply nobody waits for'), false, 'a second reply with a settled id is ignored');
  } finally {
    stop(child);
  }
});

test('request/reply: no reply in time rejects with a timeout; a late reply is ignored', async () => {
  const { child, requests } = await answeringChild(200);
  try {
    const startedAt = Date.now();
    await assert.rejects(requests.request({ op: 'silent' }), failedBecause('timeout', /No reply from the test child within 200 ms/));
    assert.ok(Date.now() - startedAt >= 190, 'not before its timeout');
    assert.equal(requests.pending, 0);
    await assert.rejects(requests.request({ op: 'echo', value: 'late', delayMs: 1_000 }, { timeoutMs: 100 }), failedBecause('timeout', /within 100 ms/));
    assert.equal(await requests.request({ op: 'echo', value: 'still works' }, { timeoutMs: 30_000 }), 'still works', 'the channel is still usable');
  } finally {
    stop(child);
  }
});

test('request/reply: a child that dies mid-request rejects every pending request, and every later one', async () => {
  const { child, requests } = await answeringChild();
  try {
    const waiting = [requests.request({ op: 'silent' }), requests.request({ op: 'echo', value: 'never sent back', delayMs: 5_000 })];
    const dying = requests.request({ op: 'die' });
    for (const pending of [...waiting, dying]) await assert.rejects(pending, failedBecause('peer-gone', /No reply from the test child: it exited \(code 3\)/));
    assert.equal(requests.pending, 0);
    await assert.rejects(requests.request({ op: 'echo', value: 'after death' }), failedBecause('peer-gone', /it exited/));
  } finally {
    stop(child);
  }
});

test('request/reply: a child killed by SIGKILL mid-request rejects the request as peer-gone', async () => {
  const { child, requests } = await answeringChild();
  const pending = requests.request({ op: 'silent' });
  child.kill('SIGKILL');
  await assert.rejects(pending, failedBecause('peer-gone', /SIGKILL/));
});

test('request/reply: a send that throws (the channel closed) rejects that request at once', async () => {
  const { child, requests } = await answeringChild();
  child.disconnect();
  await assert.rejects(requests.request({ op: 'echo', value: 'x' }), failedBecause('peer-gone', /No reply from the test child: the IPC channel is closed/));
  stop(child);
});

test('request/reply: an abort tells the peer the id and still returns its reply', async () => {
  const { child, requests } = await answeringChild();
  try {
    const controller = new AbortController();
    const aborted: number[] = [];
    const pending = requests.request({ op: 'slow' }, { signal: controller.signal, onAbort: (id) => (aborted.push(id), child.send({ abort: id })) });
    controller.abort();
    assert.equal(await pending, 'stopped early');
    assert.equal(aborted.length, 1);
  } finally {
    stop(child);
  }
});

test('request/reply: the asking side (an agent) gets a typed error when its parent closes the channel', async () => {
  const child = fork(PEER, ['ask'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const [question] = (await once(child, 'message')) as [{ id: number; body: string }];
    assert.equal(question.body, 'are you there?');
    child.disconnect(); // the host goes away without answering
    await once(child, 'exit');
    assert.match(output, /rejected \(RequestFailedError, peer-gone\): No reply from the parent: the parent closed the IPC channel\./);
  } finally {
    stop(child);
  }
});
