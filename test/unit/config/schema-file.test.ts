// The JSON schema VS Code validates swarm.config.json with must accept exactly what the loader
// accepts: the checked-in file is what the generator makes now, and on a corpus of configurations
// a real JSON Schema validator (ajv) and the loader agree.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { parseSwarmConfigText } from '../../../src/core/config';
import { SCHEMA_FILE, schemaFileText } from '../../../schemas/generate';

const repoRoot = path.join(__dirname, '..', '..', '..');

const CORPUS: Record<string, unknown> = {
  empty: {},
  'agent by name': { defaultExecutor: 'claude' },
  full: {
    $schema: './schemas/swarm.config.schema.json',
    executors: {
      lint: { type: 'command', command: 'eslint --fix {files}', timeoutMs: 60_000, verify: { command: 'npm test', timeoutMs: 1_000 } },
      a: { type: 'agent', agent: 'aider', extraArgs: '--model x', env: { FOO: 'bar' } },
      m: { type: 'model', provider: 'openai', model: 'gpt-4o-mini', apiKeyEnv: 'OPENAI_API_KEY', maxRounds: 5 },
      h: { type: 'model', provider: 'host' },
    },
    defaultExecutor: 'lint',
    verify: 'npm test',
    pool: { minAgents: 0, maxAgents: 4, idleTimeoutMs: 1_000, leaseMs: 30_000, agentMemoryMB: 512, totalMemoryMB: 2048, maxCpuPercent: 150 },
    worktrees: { include: ['node_modules'], setupCommand: 'npm ci', maxSlots: 4, diskBudgetMB: 4096 },
    rateLimits: { 'openai:https://api.openai.com/v1': { concurrency: 2, requestsPerMinute: 60 } },
  },
  'unknown top-level key': { executer: 'claude' },
  'unknown pool key': { pool: { maxAgent: 3 } },
  'string for a number': { pool: { maxAgents: '3' } },
  'zero agents': { pool: { maxAgents: 0 } },
  'fractional agents': { pool: { maxAgents: 2.5 } },
  'bad executor type': { executors: { x: { type: 'shell', command: 'x' } } },
  'command without command': { executors: { x: { type: 'command' } } },
  'batch settings': { executors: { a: { type: 'command', command: 'x {files}', batch: false }, b: { type: 'command', command: 'x {files}', batch: 8 }, c: { type: 'command', command: 'x {files}', batch: 'auto' } } },
  'bad batch': { executors: { x: { type: 'command', command: 'x {files}', batch: 'yes' } } },
  'zero batch': { executors: { x: { type: 'command', command: 'x {files}', batch: 0 } } },
  'unknown agent': { executors: { x: { type: 'agent', agent: 'clippy' } } },
  'remote model without model id': { executors: { x: { type: 'model', provider: 'openai' } } },
  'inline api key': { executors: { x: { type: 'model', provider: 'openai', model: 'm', apiKey: 'sk' } } },
  'bad executor name': { executors: { 'has space': { type: 'agent', agent: 'claude' } } },
  'empty verify': { verify: '' },
  'verify object with extra key': { verify: { command: 'x', shell: 'bash' } },
  'include not a list': { worktrees: { include: 'node_modules' } },
  'empty endpoint key': { rateLimits: { '': { concurrency: 1 } } },
  'rate limit unknown field': { rateLimits: { e: { rps: 1 } } },
  'top level array': [],
};

describe('schemas/swarm.config.schema.json', () => {
  it('is what schemas/generate.ts makes from the loader schema (regenerate with: node --import tsx schemas/generate.ts)', () => {
    assert.equal(fs.readFileSync(SCHEMA_FILE, 'utf8'), schemaFileText());
  });

  it('accepts and rejects the same configurations as the loader', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as object);
    let accepted = 0;
    for (const [name, sample] of Object.entries(CORPUS)) {
      const loader = parseSwarmConfigText('swarm.config.json', JSON.stringify(sample), { trusted: true });
      const loaderAccepts = loader.config !== undefined;
      const schemaAccepts = validate(sample);
      assert.equal(schemaAccepts, loaderAccepts, `${name}: schema ${schemaAccepts ? 'accepts' : 'rejects'} (${ajv.errorsText(validate.errors)}), loader ${loaderAccepts ? 'accepts' : `rejects (${JSON.stringify(loader.errors)})`}`);
      if (loaderAccepts) accepted++;
    }
    assert.equal(accepted, 4, 'the corpus has both kinds');
  });

  it('is contributed to VS Code for swarm.config.json', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { contributes?: { jsonValidation?: { fileMatch: string | string[]; url: string }[] } };
    const entry = manifest.contributes?.jsonValidation?.find((candidate) => [candidate.fileMatch].flat().includes('swarm.config.json'));
    assert.ok(entry, 'package.json contributes.jsonValidation has an entry for swarm.config.json');
    assert.equal(path.resolve(repoRoot, entry.url), SCHEMA_FILE);
  });
});
