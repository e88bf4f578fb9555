// Host models over IPC: an agent process runs the model executor with provider "host"; the test
// process plays the host, answering from a broker and from the shared rate limiter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createHostModelIpcClient, serveHostModelsOverIpc, type HostModelMessage } from '../../../src/core/executors';
import { ExecutorError, type ChatRequest, type ClassifiedFailure, type ExecutionResult, type HostModelBroker } from '../../../src/core/executors/types';
import { RateLimiter } from '../../../src/core/ratelimit/limiter';
import { serveLimiterOverIpc } from '../../../src/core/ratelimit/ipc';
import { makeTask, tempDir } from './helpers';

const AGENT = path.join(__dirname, 'fixtures', 'host-model-agent.ts');

function subscribeTo(child: ChildProcess) {
  return (listener: (message: unknown) => void) => {
    child.on('message', listener);
    return () => void child.off('message', listener);
  };
}

async function runAgent(broker: HostModelBroker, limiter: RateLimiter, cwd: string): Promise<{ result?: ExecutionResult; failure?: ClassifiedFailure }> {
  const task = makeTask({ files: ['a.txt'], prompt: 'Say hello' });
  const child = fork(AGENT, [cwd, JSON.stringify(task)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const send = (message: unknown): void => void child.send(message as HostModelMessage);
  const models = serveHostModelsOverIpc(broker, send, subscribeTo(child));
  const permits = serveLimiterOverIpc(limiter, send, subscribeTo(child));
  try {
    return await new Promise((resolve, reject) => {
      child.on('message', (message: { type?: string; result?: ExecutionResult; failure?: ClassifiedFailure }) => {
        if (message.type === 'test-result') resolve({ result: message.result });
        if (message.type === 'test-failure') resolve({ failure: message.failure });
      });
      child.once('exit', (code) => reject(new Error(`the agent exited (${code}) without an answer`)));
    });
  } finally {
    models.dispose();
    permits.dispose();
    child.kill();
  }
}

test('an agent process edits files with a model the host lends it, within the host limiter', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'a.txt'), 'hi\n');
  const seen: Array<ChatRequest & { model?: string }> = [];
  const broker: HostModelBroker = {
    complete: async (request) => {
      seen.push(request);
      return { text: 'a.txt\n<<<<<<< SEARCH\nhi\n=======\nhello\n>>>>>>> REPLACE', model: 'copilot-test' };
    },
  };
  const limiter = new RateLimiter();
  try {
    const { result, failure } = await runAgent(broker, limiter, dir);
    assert.equal(failure, undefined);
    assert.deepEqual(result?.changedFiles, ['a.txt']);
    assert.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), 'hello\n');
    assert.equal(seen.length, 1);
    assert.equal(seen[0].model, 'copilot-test');
    assert.match(seen[0].messages[0].content, /a\.txt\n```\nhi\n```/);
    const [state] = limiter.state();
    assert.equal(state.endpoint, 'host:copilot-test');
    assert.equal(state.granted, 1);
    assert.equal(state.running, 0, 'the permit came back');
  } finally {
    limiter.dispose();
  }
});

test('a rate-limited failure in the host reaches the agent with its class and reset time, and pauses the endpoint', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'a.txt'), 'hi\n');
  const retryAt = Date.now() + 120_000;
  const broker: HostModelBroker = { complete: async () => Promise.reject(new ExecutorError('rate-limited', 'Copilot rate limit', { retryAt })) };
  const limiter = new RateLimiter();
  try {
    const { failure } = await runAgent(broker, limiter, dir);
    assert.equal(failure?.kind, 'rate-limited');
    assert.equal(failure?.retryAt, retryAt);
    assert.match(failure?.message ?? '', /Copilot rate limit/);
    const [state] = limiter.state();
    assert.ok(state.pausedUntil !== undefined && state.pausedUntil > Date.now() + 100_000, 'the endpoint is held back for every agent');
  } finally {
    limiter.dispose();
  }
});

/** Two ends of an in-process channel, for the cancel and dispose paths. */
function channel() {
  const toHost = new EventEmitter();
  const toAgent = new EventEmitter();
  const subscribe = (emitter: EventEmitter) => (listener: (message: unknown) => void) => {
    emitter.on('message', listener);
    return () => void emitter.off('message', listener);
  };
  return {
    agentSend: (message: unknown) => void toHost.emit('message', message),
    hostSend: (message: unknown) => void toAgent.emit('message', message),
    agentSubscribe: subscribe(toAgent),
    hostSubscribe: subscribe(toHost),
  };
}

test('cancelling in the agent aborts the request in the host; dispose fails what is pending', async () => {
  const wire = channel();
  let hostSignal: AbortSignal | undefined;
  const broker: HostModelBroker = {
    complete: (_request, signal) =>
      new Promise((_resolve, reject) => {
        hostSignal = signal;
        signal.addEventListener('abort', () => reject(new Error('aborted')));
      }),
  };
  const server = serveHostModelsOverIpc(broker, wire.hostSend, wire.hostSubscribe);
  const client = createHostModelIpcClient(wire.agentSend, wire.agentSubscribe);
  const controller = new AbortController();
  const pending = client.complete({ messages: [{ role: 'user', content: 'x' }] }, controller.signal);
  controller.abort();
  await assert.rejects(pending, (error: unknown) => error instanceof ExecutorError && error.cancelled);
  assert.equal(hostSignal?.aborted, true, 'the host stopped the model request');

  const orphan = client.complete({ messages: [{ role: 'user', content: 'y' }] }, new AbortController().signal);
  client.dispose();
  await assert.rejects(orphan, (error: unknown) => error instanceof ExecutorError && error.kind === 'transient' && /connection to VS Code/.test(error.message));
  server.dispose();
});
