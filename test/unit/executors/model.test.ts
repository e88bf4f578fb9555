// The model executor against a real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions
// and Anthropic Messages protocols. Files are edited in temp directories; verify commands really run.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createExecutor } from '../../../src/core/executors';
import { ExecutorError, classifyError, type ChatRequest, type HostModelBroker } from '../../../src/core/executors/types';
import { RateLimiter } from '../../../src/core/ratelimit/limiter';
import { makeContext, makeTask, tempDir } from './helpers';
import { anthropicMessage, errorReply, openAiCompletion, searchReplace, startModelServer, wholeFile, type ModelServer } from './model-server';

const OPENAI_KEY = 'sk-test-OPENAI-0123456789abcdef';
const ANTHROPIC_KEY = 'sk-ant-test-ANTHROPIC-0123456789';
const GREETING = `export function greet(name: string): string {\n  return 'hi ' + name;\n}\n`;

let server: ModelServer;

before(async () => {
  server = await startModelServer();
});
after(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
});

function workspace(): string {
  const dir = tempDir('swarm-model-');
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src/greet.ts'), GREETING);
  return dir;
}

function openAiExecutor(extra: Record<string, unknown> = {}) {
  return createExecutor({ type: 'model', provider: 'openai', model: 'test-model', baseUrl: `${server.baseUrl}/v1`, apiKeyEnv: 'TEST_OPENAI_KEY', ...extra });
}

function anthropicExecutor(extra: Record<string, unknown> = {}) {
  return createExecutor({ type: 'model', provider: 'anthropic', model: 'claude-test', baseUrl: server.baseUrl, apiKeyEnv: 'TEST_ANTHROPIC_KEY', ...extra });
}

const keyEnv = { TEST_OPENAI_KEY: OPENAI_KEY, TEST_ANTHROPIC_KEY: ANTHROPIC_KEY };
const greetTask = makeTask({ title: 'Say hello', prompt: 'Make greet() say hello instead of hi', files: ['src/greet.ts'] });
const fixGreeting = searchReplace('src/greet.ts', "  return 'hi ' + name;", "  return 'hello ' + name;");

interface ChatBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  system?: string;
  max_tokens?: number;
  stream?: boolean;
}

test('openai: sends the task and its files in the real request shape and applies the returned edits', async () => {
  const dir = workspace();
  server.reply(openAiCompletion(`Changed the greeting.\n\n${fixGreeting}`));
  const context = makeContext(dir, greetTask, { env: keyEnv });
  const result = await openAiExecutor({ maxTokens: 1234 }).execute(context);

  assert.equal(fs.readFileSync(path.join(dir, 'src/greet.ts'), 'utf8'), GREETING.replace("'hi '", "'hello '"));
  assert.deepEqual(result.changedFiles, ['src/greet.ts']);
  assert.equal(result.rounds, 1);
  assert.match(result.summary, /changed 1 file/);
  assert.match(result.summary, /Changed the greeting/);

  assert.equal(server.requests.length, 1);
  const [request] = server.requests;
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/v1/chat/completions');
  assert.equal(request.headers.authorization, `Bearer ${OPENAI_KEY}`);
  assert.match(String(request.headers['content-type']), /^application\/json/);
  const body = request.body as ChatBody;
  assert.equal(body.model, 'test-model');
  assert.equal(body.stream, false);
  assert.equal(body.max_tokens, 1234);
  assert.deepEqual(body.messages.map((message) => message.role), ['system', 'user']);
  assert.match(body.messages[0].content, /<<<<<<< SEARCH/);
  assert.match(body.messages[1].content, /Make greet\(\) say hello instead of hi/);
  assert.match(body.messages[1].content, /src\/greet\.ts\n```\nexport function greet/, 'the file content is sent, fenced, after its path');
});

test('anthropic: x-api-key, anthropic-version, top-level system and max_tokens; a FILE block creates a file', async () => {
  const dir = workspace();
  server.reply(anthropicMessage(wholeFile('src/farewell.ts', 'export const bye = (name: string) => `bye ${name}`;')));
  const task = makeTask({ prompt: 'Add a farewell module', files: ['src/greet.ts', 'src/farewell.ts'] });
  const result = await anthropicExecutor().execute(makeContext(dir, task, { env: keyEnv }));

  assert.equal(fs.readFileSync(path.join(dir, 'src/farewell.ts'), 'utf8'), 'export const bye = (name: string) => `bye ${name}`;\n');
  assert.deepEqual(result.changedFiles, ['src/farewell.ts']);
  const [request] = server.requests;
  assert.equal(request.url, '/v1/messages');
  assert.equal(request.headers['x-api-key'], ANTHROPIC_KEY);
  assert.equal(request.headers['anthropic-version'], '2023-06-01');
  assert.equal(request.headers.authorization, undefined, 'Anthropic takes the key in x-api-key only');
  const body = request.body as ChatBody;
  assert.equal(body.model, 'claude-test');
  assert.equal(body.max_tokens, 4096, 'the default max_tokens is sent: the Messages API requires it');
  assert.match(String(body.system), /SEARCH\/REPLACE/);
  assert.deepEqual(body.messages.map((message) => message.role), ['user']);
  assert.match(body.messages[0].content, /src\/farewell\.ts\n\(does not exist yet/);
});

test('a failing verify is fed back to the model, which fixes it in a second round', { timeout: 60_000 }, async () => {
  const dir = workspace();
  fs.writeFileSync(path.join(dir, 'check.js'), `const text = require('fs').readFileSync('src/greet.ts', 'utf8');\nif (!text.includes("'hello, '")) { console.error('expected greet to say "hello, "'); process.exit(1); }\n`);
  server.reply(
    openAiCompletion(fixGreeting),
    openAiCompletion(searchReplace('src/greet.ts', "  return 'hello ' + name;", "  return 'hello, ' + name;")),
  );
  const context = makeContext(dir, greetTask, { env: keyEnv });
  const result = await openAiExecutor({ verify: 'node check.js', maxRounds: 3 }).execute(context);

  assert.equal(result.rounds, 2);
  assert.match(result.summary, /verify passed/);
  assert.match(fs.readFileSync(path.join(dir, 'src/greet.ts'), 'utf8'), /'hello, ' \+ name/);
  assert.equal(server.requests.length, 2);
  const second = server.requests[1].body as ChatBody;
  assert.deepEqual(second.messages.map((message) => message.role), ['system', 'user', 'assistant', 'user']);
  assert.equal(second.messages[2].content, fixGreeting, 'the model sees its own previous answer');
  const feedback = second.messages[3].content;
  assert.match(feedback, /verify command failed \(exit 1\)/);
  assert.match(feedback, /expected greet to say "hello, "/);
  assert.match(feedback, /return 'hello ' \+ name/, 'the feedback shows the file as it is now');
  assert.match(context.output(), /round 2\/3/);
});

test('verify still failing after maxRounds fails the attempt as transient with the last failure', { timeout: 60_000 }, async () => {
  const dir = workspace();
  server.reply(openAiCompletion(fixGreeting), openAiCompletion('I cannot see anything else to change.'));
  await assert.rejects(openAiExecutor({ verify: 'echo still broken >&2; exit 1', maxRounds: 2 }).execute(makeContext(dir, greetTask, { env: keyEnv })), (error: unknown) => {
    const failure = classifyError(error);
    assert.equal(failure.kind, 'transient');
    assert.match(failure.message, /did not finish the task in 2 rounds/);
    assert.match(failure.message, /still broken/);
    assert.match(failure.message, /Files changed so far: src\/greet\.ts/);
    return true;
  });
  assert.equal(server.requests.length, 2);
});

test('a SEARCH block that matches nothing is reported back with the current file', async () => {
  const dir = workspace();
  server.reply(openAiCompletion(searchReplace('src/greet.ts', '  return "hi " + name;', '  return "hello " + name;')), openAiCompletion(fixGreeting));
  const result = await openAiExecutor().execute(makeContext(dir, greetTask, { env: keyEnv }));
  assert.equal(result.rounds, 2);
  const feedback = (server.requests[1].body as ChatBody).messages.at(-1)?.content ?? '';
  assert.match(feedback, /matches no lines/);
  assert.match(feedback, /return 'hi ' \+ name/);
});

test('edits outside the working directory or into .git are refused and never written', async () => {
  const dir = workspace();
  const outside = path.join(path.dirname(dir), `escape-${path.basename(dir)}.txt`);
  server.reply(openAiCompletion(`${wholeFile(`../${path.basename(outside)}`, 'pwned')}\n\n${wholeFile('.git/config', 'pwned')}`), openAiCompletion(fixGreeting));
  const result = await openAiExecutor().execute(makeContext(dir, greetTask, { env: keyEnv }));
  assert.equal(fs.existsSync(outside), false);
  assert.equal(fs.existsSync(path.join(dir, '.git/config')), false);
  assert.deepEqual(result.changedFiles, ['src/greet.ts']);
  const feedback = (server.requests[1].body as ChatBody).messages.at(-1)?.content ?? '';
  assert.match(feedback, /would leave the workspace/);
  assert.match(feedback, /inside a \.git directory/);
});

test('a reply without edit blocks in every round fails with a clear message', async () => {
  const dir = workspace();
  server.reply(openAiCompletion('Sure! I would change the greeting.'), openAiCompletion('Done, I think.'));
  await assert.rejects(openAiExecutor({ maxRounds: 2 }).execute(makeContext(dir, greetTask, { env: keyEnv })), /answered without any edit blocks/);
  assert.match((server.requests[1].body as ChatBody).messages.at(-1)?.content ?? '', /no edit blocks/);
});

test('429 with Retry-After: the shared limiter holds the endpoint for the advised time, then the request succeeds', { timeout: 60_000 }, async () => {
  const dir = workspace();
  const limiter = new RateLimiter();
  try {
    server.reply(errorReply(429, 'Rate limit reached for requests', { 'retry-after': '2' }), openAiCompletion(fixGreeting));
    const result = await openAiExecutor().execute(makeContext(dir, greetTask, { env: keyEnv, limiter }));
    assert.equal(result.rounds, 1);
    assert.equal(server.requests.length, 2);
    const waited = server.requests[1].at - server.requests[0].at;
    assert.ok(waited >= 1_900, `waited ${waited} ms, Retry-After asked for 2000`);
    assert.ok(waited < 15_000, `waited ${waited} ms`);
    const [state] = limiter.state();
    assert.equal(state.endpoint, `openai:${server.baseUrl}/v1`);
    assert.equal(state.recent429s, 1);
  } finally {
    limiter.dispose();
  }
});

test('agents sharing an endpoint share its limiter: with concurrency 1 their requests never overlap', { timeout: 60_000 }, async () => {
  const limiter = new RateLimiter({ defaults: { concurrency: 1 } });
  try {
    server.reply(...[1, 2, 3].map(() => ({ ...openAiCompletion(fixGreeting), delayMs: 300 })));
    const runs = [1, 2, 3].map(() => openAiExecutor().execute(makeContext(workspace(), greetTask, { env: keyEnv, limiter })));
    await Promise.all(runs);
    const spans = server.requests.map((request) => [request.at, request.answeredAt as number]).sort((a, b) => a[0] - b[0]);
    assert.equal(spans.length, 3);
    for (let index = 1; index < spans.length; index++) {
      assert.ok(spans[index][0] >= spans[index - 1][1], `request ${index + 1} started before request ${index} was answered`);
    }
    assert.equal(limiter.state()[0].granted, 3);
  } finally {
    limiter.dispose();
  }
});

test('rate-limit headers on successful replies do not pause the endpoint', async () => {
  const dir = workspace();
  const limiter = new RateLimiter();
  try {
    const budgetHeaders = { 'x-ratelimit-reset-requests': '6m0s', 'x-ratelimit-remaining-requests': '499', 'anthropic-ratelimit-requests-reset': new Date(Date.now() + 600_000).toISOString() };
    server.reply({ ...openAiCompletion(fixGreeting), headers: budgetHeaders });
    await openAiExecutor().execute(makeContext(dir, greetTask, { env: keyEnv, limiter }));
    const [state] = limiter.state();
    assert.equal(state.pausedUntil, undefined, 'a 200 with budget headers is not a Retry-After');
    assert.equal(state.granted, 1);
  } finally {
    limiter.dispose();
  }
});

test('429 with Retry-After and no limiter: the provider waits the advised time itself', { timeout: 60_000 }, async () => {
  const dir = workspace();
  server.reply(errorReply(429, 'slow down', { 'retry-after': '1' }), openAiCompletion(fixGreeting));
  await openAiExecutor().execute(makeContext(dir, greetTask, { env: keyEnv }));
  const waited = server.requests[1].at - server.requests[0].at;
  assert.ok(waited >= 900 && waited < 15_000, `waited ${waited} ms, Retry-After asked for 1000`);
});

test('a Retry-After beyond maxInlineWaitMs fails the attempt as rate-limited with the reset time', async () => {
  const dir = workspace();
  server.reply(errorReply(429, 'quota', { 'retry-after': '3600' }));
  const before = Date.now();
  await assert.rejects(openAiExecutor({ maxInlineWaitMs: 5_000 }).execute(makeContext(dir, greetTask, { env: keyEnv })), (error: unknown) => {
    assert.ok(error instanceof ExecutorError);
    assert.equal(error.kind, 'rate-limited');
    assert.ok(error.retryAt !== undefined && error.retryAt >= before + 3_590_000 && error.retryAt <= Date.now() + 3_600_000 + 1_000, `retryAt ${error.retryAt}`);
    assert.match(error.message, /429/);
    return true;
  });
  assert.equal(server.requests.length, 1);
});

test('malformed replies fail with a message that says what was wrong', async () => {
  const dir = workspace();
  server.reply({ body: '<html>502 Bad Gateway</html>' });
  await assert.rejects(openAiExecutor().execute(makeContext(dir, greetTask, { env: keyEnv })), (error: unknown) => {
    assert.equal(classifyError(error).kind, 'transient');
    assert.match((error as Error).message, /body is not JSON: <html>502 Bad Gateway/);
    return true;
  });
  server.reply({ body: { id: 'x', object: 'list', data: [] } });
  await assert.rejects(openAiExecutor().execute(makeContext(dir, greetTask, { env: keyEnv })), /no choices\[0\]\.message\.content/);
  server.reply({ body: { type: 'message', role: 'assistant' } });
  await assert.rejects(anthropicExecutor().execute(makeContext(dir, greetTask, { env: keyEnv })), /no content array/);
  assert.equal(fs.readFileSync(path.join(dir, 'src/greet.ts'), 'utf8'), GREETING, 'nothing was written');
});

test('4xx is permanent, is not retried, and says what to fix', async () => {
  const dir = workspace();
  server.reply(errorReply(400, "The model 'test-model' does not exist"), openAiCompletion(fixGreeting));
  await assert.rejects(openAiExecutor({ retries: 3 }).execute(makeContext(dir, greetTask, { env: keyEnv })), (error: unknown) => {
    const failure = classifyError(error);
    assert.equal(failure.kind, 'permanent');
    assert.match(failure.message, /rejected the request \(400\): The model 'test-model' does not exist/);
    assert.match(failure.message, /Check the model name/);
    return true;
  });
  assert.equal(server.requests.length, 1, 'no retry of a permanent failure');
  server.reset();
  server.reply(errorReply(404, 'Not Found'));
  await assert.rejects(anthropicExecutor().execute(makeContext(dir, greetTask, { env: keyEnv })), (error: unknown) => {
    assert.equal(classifyError(error).kind, 'permanent');
    assert.match((error as Error).message, /Check baseUrl/);
    return true;
  });
});

test('5xx is transient; with retries left it is retried and succeeds', { timeout: 60_000 }, async () => {
  const dir = workspace();
  server.reply(errorReply(503, 'overloaded'));
  await assert.rejects(openAiExecutor({ retries: 0 }).execute(makeContext(dir, greetTask, { env: keyEnv })), (error: unknown) => {
    const failure = classifyError(error);
    assert.equal(failure.kind, 'transient');
    assert.match(failure.message, /failed with 503: overloaded/);
    return true;
  });
  assert.equal(server.requests.length, 1);
  server.reply(errorReply(500, 'internal'), anthropicMessage(fixGreeting));
  const result = await anthropicExecutor({ retries: 1 }).execute(makeContext(dir, greetTask, { env: keyEnv }));
  assert.deepEqual(result.changedFiles, ['src/greet.ts']);
  assert.equal(server.requests.length, 3);
});

test('a model that refuses max_tokens is asked again with max_completion_tokens', async () => {
  const dir = workspace();
  server.reply(
    errorReply(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."),
    openAiCompletion(fixGreeting),
  );
  const result = await openAiExecutor({ maxTokens: 2000 }).execute(makeContext(dir, greetTask, { env: keyEnv }));
  assert.equal(result.rounds, 1);
  const [first, second] = server.requests.map((request) => request.body as Record<string, unknown>);
  assert.equal(first.max_tokens, 2000);
  assert.equal(second.max_tokens, undefined);
  assert.equal(second.max_completion_tokens, 2000);
});

test('an unreachable endpoint is transient and names the URL', async () => {
  const dir = workspace();
  const executor = createExecutor({ type: 'model', provider: 'openai', model: 'm', baseUrl: 'http://127.0.0.1:9/v1', retries: 0 });
  await assert.rejects(executor.execute(makeContext(dir, greetTask)), (error: unknown) => {
    assert.equal(classifyError(error).kind, 'transient');
    assert.match((error as Error).message, /Could not reach .*127\.0\.0\.1:9/);
    return true;
  });
});

test('the API key never appears in the log, the result or error messages, even when the server echoes it', async () => {
  const dir = workspace();
  server.reply(openAiCompletion(`Using key ${OPENAI_KEY} as told.\n\n${fixGreeting}`));
  const okContext = makeContext(dir, greetTask, { env: keyEnv });
  const result = await openAiExecutor().execute(okContext);
  assert.equal(server.requests[0].headers.authorization, `Bearer ${OPENAI_KEY}`, 'the key did go to the server');
  assert.ok(!okContext.output().includes(OPENAI_KEY), 'log is clean');
  assert.ok(!JSON.stringify(result).includes(OPENAI_KEY), 'result is clean');
  assert.match(okContext.output(), /\[redacted\]/);

  server.reply(errorReply(401, `Incorrect API key provided: ${ANTHROPIC_KEY}.`));
  const failContext = makeContext(dir, greetTask, { env: keyEnv });
  await assert.rejects(anthropicExecutor().execute(failContext), (error: unknown) => {
    const failure = classifyError(error);
    assert.equal(failure.kind, 'permanent');
    assert.ok(!failure.message.includes(ANTHROPIC_KEY), failure.message);
    assert.match(failure.message, /Set TEST_ANTHROPIC_KEY/);
    return true;
  });
  assert.ok(!failContext.output().includes(ANTHROPIC_KEY));
});

test('a missing key is a permanent failure naming the variable, and no request is made', async () => {
  const dir = workspace();
  await assert.rejects(anthropicExecutor({ apiKeyEnv: 'SWARM_TEST_UNSET_KEY' }).execute(makeContext(dir, greetTask)), (error: unknown) => {
    assert.equal(classifyError(error).kind, 'permanent');
    assert.match((error as Error).message, /SWARM_TEST_UNSET_KEY is not set/);
    return true;
  });
  assert.equal(server.requests.length, 0);
});

test('an inline key in the config is refused', () => {
  assert.throws(() => createExecutor({ type: 'model', provider: 'openai', model: 'm', apiKey: 'sk-x' }), /never go in configuration/);
});

test('cancel during a request stops at once and writes nothing', { timeout: 30_000 }, async () => {
  const dir = workspace();
  server.reply({ hang: true });
  const context = makeContext(dir, greetTask, { env: keyEnv });
  const run = openAiExecutor().execute(context);
  while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const abortedAt = Date.now();
  context.controller.abort();
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof ExecutorError);
    assert.equal(error.cancelled, true);
    return true;
  });
  assert.ok(Date.now() - abortedAt < 5_000);
  assert.equal(fs.readFileSync(path.join(dir, 'src/greet.ts'), 'utf8'), GREETING);
});

test('host provider: requests go to the broker with the configured model and failures keep their class', async () => {
  const dir = workspace();
  const seen: Array<ChatRequest & { model?: string }> = [];
  const replies = [fixGreeting];
  const broker: HostModelBroker = {
    complete: async (request) => {
      seen.push(request);
      const text = replies.shift();
      if (text === undefined) throw { kind: 'rate-limited', message: 'Copilot quota used up', retryAt: Date.now() + 60_000 };
      return { text, model: 'copilot-gpt' };
    },
  };
  const executor = createExecutor({ type: 'model', provider: 'host', model: 'gpt-4o' });
  const result = await executor.execute(makeContext(dir, greetTask, { hostModels: broker }));
  assert.deepEqual(result.changedFiles, ['src/greet.ts']);
  assert.equal(seen[0].model, 'gpt-4o');
  assert.match(String(seen[0].system), /SEARCH/);
  await assert.rejects(executor.execute(makeContext(dir, greetTask, { hostModels: broker })), (error: unknown) => {
    assert.ok(error instanceof ExecutorError);
    assert.equal(error.kind, 'rate-limited');
    assert.match(error.message, /Copilot quota used up/);
    return true;
  });
  await assert.rejects(executor.execute(makeContext(dir, greetTask)), /no connection to VS Code language models/);
});

test('files too large for the prompt are described instead of sent', async () => {
  const dir = workspace();
  fs.writeFileSync(path.join(dir, 'big.txt'), 'x'.repeat(5_000));
  server.reply(openAiCompletion(fixGreeting));
  await openAiExecutor({ maxFileBytes: 1_000 }).execute(makeContext(dir, makeTask({ files: ['src/greet.ts', 'big.txt'] }), { env: keyEnv }));
  const prompt = (server.requests[0].body as ChatBody).messages[1].content;
  assert.match(prompt, /big\.txt\n\(not shown: 5000 bytes is over the 1000-byte limit/);
  assert.ok(!prompt.includes('x'.repeat(1_001)));
});
