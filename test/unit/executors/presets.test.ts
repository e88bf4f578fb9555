// Coding-agent presets: detection on PATH with fake executables, and the agent executor running a
// fake CLI the way the real one is run (prompt as one argument, usage limits recognised).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_NAMES, AGENT_PRESETS, createExecutor, detectPresets, findExecutable, parseExecutorShorthand } from '../../../src/core/executors';
import { ExecutorError, classifyError } from '../../../src/core/executors/types';
import { makeContext, makeTask, tempDir, writeScript } from './helpers';

test('detectPresets finds the installed agent CLIs on PATH, in preset order', () => {
  const first = tempDir('swarm-path-');
  const second = tempDir('swarm-path-');
  writeScript(first, 'codex', '#!/bin/sh\nexit 0\n');
  writeScript(second, 'claude', '#!/bin/sh\nexit 0\n');
  writeScript(second, 'aider', '#!/bin/sh\nexit 0\n');
  fs.writeFileSync(path.join(second, 'gemini'), 'not executable', { mode: 0o644 });
  fs.mkdirSync(path.join(first, 'goose'));
  const detected = detectPresets([first, '', second].join(path.delimiter));
  assert.deepEqual(detected.map((agent) => agent.preset.name), ['claude', 'codex', 'aider']);
  assert.equal(detected[0].executable, path.join(second, 'claude'));
  assert.equal(detected[1].executable, path.join(first, 'codex'));
});

test('nothing is detected on an empty PATH, and the first match on PATH wins', () => {
  assert.deepEqual(detectPresets(''), []);
  assert.deepEqual(detectPresets(undefined), []);
  const a = tempDir('swarm-path-');
  const b = tempDir('swarm-path-');
  writeScript(a, 'claude', '#!/bin/sh\n');
  writeScript(b, 'claude', '#!/bin/sh\n');
  assert.equal(findExecutable('claude', `${a}${path.delimiter}${b}`), path.join(a, 'claude'));
});

test('every preset has a documented non-interactive template using the agent prompt', () => {
  for (const name of AGENT_NAMES) {
    const preset = AGENT_PRESETS[name];
    assert.ok(preset.template.startsWith(`${preset.binary} `), name);
    assert.match(preset.template, /\{agentPrompt\}/, name);
    assert.match(preset.docs, /^https:\/\//, name);
  }
});

/** A fake agent CLI that records its arguments and prints what the test says. */
function fakeAgent(binDir: string, name: string, script: string): void {
  writeScript(binDir, name, `#!/usr/bin/env node\nrequire('fs').writeFileSync('argv.json', JSON.stringify(process.argv.slice(2)));\n${script}\n`);
}

test('the claude preset runs the CLI from PATH with the prompt as one -p argument', async () => {
  const bin = tempDir('swarm-bin-');
  const dir = tempDir();
  fakeAgent(bin, 'claude', `require('fs').writeFileSync('done.txt', 'ok'); console.log('All done.');`);
  const task = makeTask({ title: 'Fix it', prompt: `Fix "it" $(rm -rf /)`, files: ['a.ts'] });
  const context = makeContext(dir, task, { env: { PATH: `${bin}${path.delimiter}${process.env.PATH}` } });
  const result = await createExecutor(parseExecutorShorthand('claude')).execute(context);
  const argv = JSON.parse(fs.readFileSync(path.join(dir, 'argv.json'), 'utf8')) as string[];
  assert.equal(argv[0], '-p');
  assert.match(argv[1], /# Task: Fix it/);
  assert.match(argv[1], /Fix "it" \$\(rm -rf \/\)/);
  assert.match(argv[1], /- a\.ts/);
  assert.deepEqual(argv.slice(2), ['--permission-mode', 'acceptEdits']);
  assert.match(result.summary, /All done\./);
});

test('extraArgs are appended to the preset command', async () => {
  const bin = tempDir('swarm-bin-');
  const dir = tempDir();
  fakeAgent(bin, 'aider', '');
  const context = makeContext(dir, makeTask({ files: ['x.py'] }), { env: { PATH: `${bin}${path.delimiter}${process.env.PATH}` } });
  await createExecutor({ type: 'agent', agent: 'aider', extraArgs: '--model sonnet' }).execute(context);
  const argv = JSON.parse(fs.readFileSync(path.join(dir, 'argv.json'), 'utf8')) as string[];
  assert.deepEqual(argv.slice(2), ['--yes-always', '--no-auto-commits', 'x.py', '--model', 'sonnet']);
});

test('a usage-limit report from an agent CLI fails the attempt as rate-limited until the reset', async () => {
  const bin = tempDir('swarm-bin-');
  const dir = tempDir();
  const resetSeconds = Math.floor(Date.now() / 1000) + 3_600;
  fakeAgent(bin, 'claude', `console.log('Claude AI usage limit reached|${resetSeconds}'); process.exit(1);`);
  const context = makeContext(dir, makeTask(), { env: { PATH: `${bin}${path.delimiter}${process.env.PATH}` } });
  await assert.rejects(createExecutor({ type: 'agent', agent: 'claude' }).execute(context), (error: unknown) => {
    assert.ok(error instanceof ExecutorError);
    assert.equal(error.kind, 'rate-limited');
    assert.equal(error.retryAt, resetSeconds * 1000);
    assert.match(error.message, /claude reported a usage or rate limit/);
    return true;
  });
});

test('an agent CLI that is not installed is a permanent failure pointing at its docs', async () => {
  const dir = tempDir();
  const emptyBin = tempDir('swarm-bin-');
  const context = makeContext(dir, makeTask(), { env: { PATH: emptyBin } });
  await assert.rejects(createExecutor({ type: 'agent', agent: 'gemini' }).execute(context), (error: unknown) => {
    assert.equal(classifyError(error).kind, 'permanent');
    assert.match((error as Error).message, /Is gemini installed/);
    assert.match((error as Error).message, /geminicli\.com/);
    return true;
  });
});

test('shorthands and invalid configs give permanent errors naming the field', () => {
  assert.equal(parseExecutorShorthand('command:make fix').type, 'command');
  assert.throws(() => parseExecutorShorthand('claud'), /Unknown executor "claud"/);
  assert.throws(() => createExecutor({ type: 'model', provider: 'openai' }), /model: is required for provider "openai"/);
  assert.throws(() => createExecutor({ type: 'command', command: 'x', timeoutMs: -1 }), /timeoutMs/);
  assert.throws(() => createExecutor({ type: 'model', provider: 'openai', model: 'm', apiKeyEnv: 'sk-123 456' }), /apiKeyEnv: must be the NAME/);
});
