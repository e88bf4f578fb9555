import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createExecutor } from '../../../src/core/executors';
import { formatConfigProblem, loadSwarmConfig, selectExecutor } from '../../../src/core/config';

let root: string;
const write = (text: string): void => fs.writeFileSync(path.join(root, 'swarm.config.json'), text);

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-config-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const FULL = `{
  // comments are allowed: VS Code users write them
  "$schema": "./node_modules/agent-swarm/schemas/swarm.config.schema.json",
  "executors": {
    "lint": { "type": "command", "command": "eslint --fix {files}", "timeoutMs": 60000 },
    "claude": { "type": "agent", "agent": "claude", "extraArgs": "--model sonnet" },
    "local": { "type": "model", "provider": "openai", "model": "qwen", "baseUrl": "http://127.0.0.1:8080/v1" }
  },
  "defaultExecutor": "lint",
  "verify": "npm test",
  "pool": { "minAgents": 1, "maxAgents": 3, "idleTimeoutMs": 30000, "agentMemoryMB": 512, "maxCpuPercent": 150 },
  "worktrees": { "include": ["node_modules", ".env"], "setupCommand": "npm ci" },
  "rateLimits": { "openai:http://127.0.0.1:8080/v1": { "concurrency": 2, "requestsPerMinute": 30 } },
}`;

describe('loadSwarmConfig', () => {
  it('reports no file as source none with an empty configuration', () => {
    const loaded = loadSwarmConfig(root, { trusted: true });
    assert.equal(loaded.source, 'none');
    assert.deepEqual(loaded.config, {});
    assert.deepEqual(loaded.errors, []);
  });

  it('reads a full file (comments, trailing commas) and fills executor defaults', () => {
    write(FULL);
    const loaded = loadSwarmConfig(root, { trusted: true });
    assert.deepEqual(loaded.errors, []);
    assert.equal(loaded.source, 'file');
    const config = loaded.config!;
    assert.equal(config.defaultExecutor, 'lint');
    assert.equal(config.pool?.maxAgents, 3);
    assert.deepEqual(config.worktrees?.include, ['node_modules', '.env']);
    const claude = config.executors?.claude;
    assert.equal(claude?.type === 'agent' && claude.timeoutMs, 30 * 60_000, 'agent default timeout filled in');
  });

  it('hands the default executor, with the top-level verify, to the real executor factory', () => {
    write(FULL);
    const config = loadSwarmConfig(root, { trusted: true }).config!;
    const chosen = selectExecutor(config);
    assert.deepEqual(chosen && { type: chosen.type, verify: chosen.verify }, { type: 'command', verify: 'npm test' });
    assert.doesNotThrow(() => createExecutor(chosen));
    assert.equal(selectExecutor(config, 'claude')?.type, 'agent');
    assert.deepEqual(selectExecutor({}, 'codex'), { type: 'agent', agent: 'codex' });
    assert.throws(() => selectExecutor(config, 'nope'), /No executor named "nope".*lint, claude, local/);
  });

  it('names the file, the JSON path, the line and what was expected', () => {
    write(`{
  "pool": { "maxAgents": "four" },
  "executors": { "fast": { "type": "comand", "command": "x" } }
}`);
    const loaded = loadSwarmConfig(root, { trusted: true });
    assert.equal(loaded.config, undefined);
    const byPath = new Map(loaded.errors.map((problem) => [problem.path, problem]));
    const maxAgents = byPath.get('pool.maxAgents');
    assert.ok(maxAgents, JSON.stringify(loaded.errors));
    assert.equal(maxAgents.file, path.join(root, 'swarm.config.json'));
    assert.equal(maxAgents.line, 2);
    assert.match(maxAgents.message, /expected number, found string/);
    const type = byPath.get('executors.fast.type');
    assert.ok(type, JSON.stringify(loaded.errors));
    assert.equal(type.line, 3);
    assert.match(type.message, /"command", "agent", "model"/);
    assert.match(formatConfigProblem(maxAgents), /swarm\.config\.json:2:\d+: pool\.maxAgents: expected number/);
  });

  it('lists the known keys for an unknown one and refuses secrets', () => {
    write('{ "pool": { "maxAgent": 2 }, "executors": { "m": { "type": "model", "provider": "openai", "model": "x", "apiKey": "sk-123" } } }');
    const loaded = loadSwarmConfig(root, { trusted: true });
    const unknown = loaded.errors.find((problem) => problem.path === 'pool.maxAgent');
    assert.match(unknown?.message ?? '', /not a known setting; expected one of: minAgents, maxAgents/);
    const secret = loaded.errors.find((problem) => problem.path === 'executors.m.apiKey');
    assert.match(secret?.message ?? '', /apiKeyEnv/);
    assert.ok(!JSON.stringify(loaded.errors).includes('sk-123'), 'the secret value is never echoed');
  });

  it('reports missing required fields and cross-field rules', () => {
    write('{ "executors": { "m": { "type": "model", "provider": "anthropic" } }, "defaultExecutor": "other", "pool": { "minAgents": 5, "maxAgents": 2 } }');
    let loaded = loadSwarmConfig(root, { trusted: true });
    assert.match(loaded.errors.find((problem) => problem.path === 'executors.m.model')?.message ?? '', /required for provider "anthropic"/);
    write('{ "defaultExecutor": "other", "pool": { "minAgents": 5, "maxAgents": 2 } }');
    loaded = loadSwarmConfig(root, { trusted: true });
    assert.match(loaded.errors.find((problem) => problem.path === 'defaultExecutor')?.message ?? '', /neither an entry.*claude/);
    assert.match(loaded.errors.find((problem) => problem.path === 'pool.minAgents')?.message ?? '', /must not exceed pool.maxAgents \(2\)/);
  });

  it('gives the position of a syntax error', () => {
    write('{\n  "pool": { "maxAgents": 2 \n}');
    const loaded = loadSwarmConfig(root, { trusted: true });
    assert.equal(loaded.config, undefined);
    assert.ok(loaded.errors.length > 0);
    assert.equal(loaded.errors[0].path, '');
    assert.ok((loaded.errors[0].line ?? 0) >= 2, JSON.stringify(loaded.errors));
    assert.match(loaded.errors[0].message, /not valid JSON/);
    write('[1, 2]');
    assert.match(loadSwarmConfig(root, { trusted: true }).errors[0].message, /JSON object at the top level/);
  });

  it('drops every command-naming field in an untrusted workspace, each with a reason', () => {
    write(FULL);
    const loaded = loadSwarmConfig(root, { trusted: false });
    assert.deepEqual(loaded.errors, []);
    const config = loaded.config!;
    assert.equal(config.verify, undefined);
    assert.equal(config.worktrees?.setupCommand, undefined);
    assert.deepEqual(config.worktrees?.include, ['node_modules', '.env'], 'paths are not commands and stay');
    assert.equal(config.executors?.lint, undefined, 'a command executor is a command');
    assert.equal(config.executors?.claude?.type, 'agent');
    assert.equal((config.executors?.claude as { extraArgs?: string }).extraArgs, undefined);
    assert.equal((config.executors?.local as { baseUrl?: string }).baseUrl, undefined);
    assert.equal(config.defaultExecutor, undefined, 'it named the dropped executor');
    assert.equal(config.pool?.maxAgents, 3, 'limits are not commands and stay');
    const ignored = new Map(loaded.ignored.map((entry) => [entry.path, entry.reason]));
    for (const field of ['verify', 'worktrees.setupCommand', 'executors.lint', 'executors.claude.extraArgs', 'executors.local.baseUrl', 'defaultExecutor']) {
      assert.ok(ignored.has(field), `${field} reported as ignored: ${JSON.stringify(loaded.ignored)}`);
    }
    assert.match(ignored.get('verify')!, /not trusted.*Manage Workspace Trust/);
    assert.equal(loadSwarmConfig(root, { trusted: true }).ignored.length, 0);
  });
});
