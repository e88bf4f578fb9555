import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, poolSettingsFrom, rateLimitsFrom, resolveEffectiveConfig, selectExecutor, swarmConfigSchema, worktreeSettingsFrom } from '../../../src/core/config';

describe('resolveEffectiveConfig', () => {
  it('lets settings override the file and flags override both, field by field', () => {
    const { config, origins, errors } = resolveEffectiveConfig({
      file: { pool: { minAgents: 1, maxAgents: 2, idleTimeoutMs: 5_000 }, verify: 'npm test', defaultExecutor: 'claude', worktrees: { include: ['node_modules'] } },
      settings: { pool: { maxAgents: 6 }, defaultExecutor: 'codex' },
      flags: { pool: { maxAgents: 8 } },
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(config.pool, { minAgents: 1, maxAgents: 8, idleTimeoutMs: 5_000 });
    assert.equal(config.defaultExecutor, 'codex');
    assert.equal(config.verify, 'npm test');
    assert.equal(origins['pool.maxAgents'], 'flags');
    assert.equal(origins['pool.minAgents'], 'file');
    assert.equal(origins.defaultExecutor, 'settings');
  });

  it('replaces a named executor whole instead of mixing two', () => {
    const { config, errors } = resolveEffectiveConfig({
      file: { executors: { main: { type: 'command', command: 'make fix', timeoutMs: 1_000 }, other: { type: 'agent', agent: 'aider' } } },
      settings: { executors: { main: { type: 'agent', agent: 'claude' } } },
    });
    assert.deepEqual(errors, []);
    assert.equal(config.executors?.main.type, 'agent');
    assert.equal((config.executors?.main as { command?: string }).command, undefined);
    assert.equal(config.executors?.other.type, 'agent');
  });

  it('attributes a problem to the layer that set the field and keeps the file meanwhile', () => {
    const { config, errors } = resolveEffectiveConfig({ file: { pool: { maxAgents: 2 } }, flags: { pool: { maxAgents: 0 } } });
    assert.equal(errors.length, 1);
    assert.equal(errors[0].file, 'command-line flags');
    assert.equal(errors[0].path, 'pool.maxAgents');
    assert.match(errors[0].message, /at least 1/);
    assert.equal(config.pool?.maxAgents, 2);
  });

  it('translates sections into pool, worktree and rate-limiter options', () => {
    const { config } = resolveEffectiveConfig({
      file: {
        pool: { maxAgents: 3, agentMemoryMB: 256, maxCpuPercent: 200 },
        worktrees: { include: ['.env'], setupCommand: 'npm ci', diskBudgetMB: 1024 },
        rateLimits: { 'openai:https://api.openai.com/v1': { concurrency: 2, requestsPerMinute: 60 }, 'anthropic:x': { concurrency: 1 } },
      },
    });
    assert.deepEqual(poolSettingsFrom(config), { maxAgents: 3, limits: { agentMemoryBytes: 256 * 1024 * 1024, maxCpuPercent: 200 } });
    assert.deepEqual(worktreeSettingsFrom(config), { include: ['.env'], setupCommand: 'npm ci', diskBudgetBytes: 1024 * 1024 * 1024 });
    assert.deepEqual(rateLimitsFrom(config), {
      'openai:https://api.openai.com/v1': { concurrency: 2, intervalCap: 60, intervalMs: 60_000 },
      'anthropic:x': { concurrency: 1, intervalCap: Infinity, intervalMs: 60_000 },
    });
    assert.deepEqual(poolSettingsFrom({}), {});
  });
});

describe('selectExecutor', () => {
  it('a name of no executor (the schema refuses it in defaultExecutor; a caller may still pass one) is a config error listing the names there are', () => {
    assert.throws(
      () => selectExecutor(swarmConfigSchema.parse({ executors: { slow: { type: 'command', command: 'true' } } }), 'fast'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.kind, 'config');
        assert.match(error.message, /^No executor named "fast" in swarm\.config\.json; define it under "executors" or use one of: slow, claude, /);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  });
});
