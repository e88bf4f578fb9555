// Every time and number the `swarm` CLI accepts, at its limits: the limit itself, one past it, 0,
// negative, fractional, NaN, exponent and hex spellings, empty, and times beyond what a task's file
// name can hold. The parsers get the whole matrix in this process; every flag and task-line field
// gets its limits through the real CLI. Accepted values must round-trip (the id printed still
// names the task, with the value given); refused ones exit 2 with one line and change nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { MAX_TIME_MS } from '../../src/core/board';
import { parseInteger, parseTimeValue, readTaskLines } from '../../src/cli/parse';
import { removeDir, tempDir } from '../unit/board/helpers';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
let workspace: string;
let board: string;

function swarm(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [cli, '--board', board, ...args], { cwd: workspace, input, encoding: 'utf8', env: { ...process.env, SWARM_BOARD: '' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function show(id: string): Record<string, unknown> {
  const result = swarm(['show', id, '--json']);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

function boardFiles(): string {
  return ['pending', 'delayed', 'running', 'waiting', 'done', 'dead', 'cancelled', 'quarantine'].map((dir) => fs.readdirSync(path.join(board, dir)).sort().join(',')).join('|');
}

function expectRefused(args: string[], input?: string): void {
  const before = boardFiles();
  const result = swarm(args, input);
  const what = `${args.join(' ')}${input ? ` <<< ${input.trim()}` : ''}`;
  assert.equal(result.code, 2, `${what}: exit ${result.code} ${result.stdout}${result.stderr}`);
  assert.equal(result.stderr.trim().split('\n').length, 1, `${what}: one line (${result.stderr})`);
  assert.match(result.stderr, /^swarm: /);
  assert.equal(boardFiles(), before, `${what}: nothing changed`);
}

function expectPosted(args: string[], input?: string): string {
  const result = swarm(args, input);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim().split('\n')[0];
}

before(() => {
  assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
  workspace = tempDir('swarm-inputs-');
  board = path.join(workspace, '.swarm');
  assert.equal(swarm(['init']).code, 0);
});
after(() => removeDir(workspace));

const MAX = String(MAX_TIME_MS);
const REFUSED_TIMES = [String(MAX_TIME_MS + 1), '9999-12-31', '99999999h', '999999999999d', '-1', '-5s', '1.5', '1.5s', 'NaN', 'Infinity', '', ' ', '1e3', '0x10', '2030-02-30', '2030-13-01', '2030-01-31T25:00Z', '2030-01-31T10:60', 'tomorrow', '1969-12-31', '5138-11-16T09:46:40.000Z'];

const NOT_WHOLE = ['1.5', '1e3', '0x10', 'NaN', 'Infinity', '', ' ', 'high', '99999999999999999999', '--1', '1_000'];

describe('attack: the parsers, the whole matrix (in process)', () => {
  it('times: accepted values are exact, refused ones say why', () => {
    const now = 1_700_000_000_000;
    assert.equal(parseTimeValue('0', 't', now), 0);
    assert.equal(parseTimeValue(MAX, 't', now), MAX_TIME_MS);
    assert.equal(parseTimeValue('5138-11-16T09:46:39.999Z', 't', now), MAX_TIME_MS);
    assert.equal(parseTimeValue('2030-01-31', 't', now), Date.UTC(2030, 0, 31));
    assert.equal(parseTimeValue('2030-02-28T23:59:59Z', 't', now), Date.UTC(2030, 1, 28, 23, 59, 59));
    assert.equal(parseTimeValue('2028-02-29', 't', now), Date.UTC(2028, 1, 29), 'a leap day exists');
    for (const [delay, ms] of [['0ms', 0], ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['2h', 7_200_000], ['7d', 604_800_000]] as const) assert.equal(parseTimeValue(delay, 't', now), now + ms);
    assert.equal(parseTimeValue(`${MAX_TIME_MS - now}ms`, 't', now), MAX_TIME_MS, 'the longest delay');
    for (const value of [...REFUSED_TIMES, `${MAX_TIME_MS - now + 1}ms`, '2029-02-29']) assert.throws(() => parseTimeValue(value, 't', now), /^InvalidArgumentError|t /, value);
  });

  it('whole numbers: the limits pass, one past them and every other spelling is refused', () => {
    const parse = parseInteger('--n', -9999, 9999);
    for (const [text, value] of [['-9999', -9999], ['9999', 9999], ['0', 0], ['-0', 0], ['+5', 5], [' 7 ', 7], ['007', 7]] as const) assert.equal(parse(text), value, text);
    for (const text of ['10000', '-10000', ...NOT_WHOLE]) assert.throws(() => parse(text), /--n must be/, JSON.stringify(text));
    assert.throws(() => parseInteger('--n')('9007199254740993'), /--n must be between/, 'beyond safe integers');
  });

  it('task lines: every numeric field at its limits', () => {
    const file = path.join(workspace, 'lines.jsonl');
    const read = (line: string) => {
      fs.writeFileSync(file, line + '\n');
      return readTaskLines(file, { allowParentId: true })[0];
    };
    assert.equal(read('{"title":"a","priority":9999}').priority, 9999);
    assert.equal(read('{"title":"a","priority":-9999}').priority, -9999);
    assert.equal(read('{"title":"a","maxAttempts":100}').maxAttempts, 100);
    assert.equal(read(`{"title":"a","notBefore":${MAX}}`).notBefore, MAX_TIME_MS);
    assert.equal(read('{"title":"a","notBefore":0}').notBefore, 0);
    const refused = [
      '"priority":10000', '"priority":-10000', '"priority":1.5', '"priority":1e300', '"priority":"5"', '"priority":null',
      '"maxAttempts":0', '"maxAttempts":101', '"maxAttempts":2.5', '"maxAttempts":-1',
      `"notBefore":${MAX_TIME_MS + 1}`, '"notBefore":-1', '"notBefore":1.5', '"notBefore":1e300', '"notBefore":true', '"notBefore":[]',
      ...REFUSED_TIMES.filter((text) => !/^-?\d+$/.test(text)).map((text) => `"notBefore":${JSON.stringify(text)}`),
    ];
    for (const field of refused) assert.throws(() => read(`{"title":"x",${field}}`), /^UsageError|Line 1/, field);
  });
});

describe('attack: time inputs at their limits (CLI)', () => {
  it('--not-before: 0, the largest time, ISO dates and every delay unit are accepted and read back as given', () => {
    const zero = expectPosted(['post', 'zero', '--not-before', '0']);
    assert.deepEqual([show(zero).status, show(zero).notBefore], ['pending', 0]);
    const latest = expectPosted(['post', 'latest', '--not-before', MAX]);
    assert.deepEqual([show(latest).status, show(latest).notBefore], ['pending', MAX_TIME_MS], 'the id printed still names the task, with its time');
    assert.equal(show(expectPosted(['post', 'iso', '--not-before', '5138-11-16T09:46:39.999Z'])).notBefore, MAX_TIME_MS);
    const before = Date.now();
    const notBefore = show(expectPosted(['post', 'delay', '--not-before', '7d'])).notBefore as number;
    assert.ok(notBefore >= before + 604_800_000 && notBefore <= Date.now() + 604_800_000);
    const stats = JSON.parse(swarm(['stats', '--json']).stdout) as { quarantined: number };
    assert.equal(stats.quarantined, 0, 'no name was garbled');
  });

  it('--not-before and notBefore in task lines: past the name format, negative, fractional, not a time, a date that does not exist', () => {
    for (const value of [String(MAX_TIME_MS + 1), '9999-12-31', '99999999h', '-1', '1.5', 'NaN', '2030-02-30']) expectRefused(['post', 'x', `--not-before=${value}`]);
    assert.equal(show(expectPosted(['post', '--jsonl', '-'], `{"title":"a","notBefore":${MAX}}\n`)).notBefore, MAX_TIME_MS);
    for (const value of [String(MAX_TIME_MS + 1), '-1', '"9999-12-31"', '"99999999h"']) {
      expectRefused(['post', '--jsonl', '-'], `{"title":"x","notBefore":${value}}\n`);
      expectRefused(['map', 'm', '--jsonl', '-'], `{"title":"x","notBefore":${value}}\n`);
    }
  });
});

describe('attack: number inputs at their limits (CLI)', () => {
  it('--priority (post and map) and priority in lines: -9999 and 9999 pass, one past them and fractions are refused', () => {
    for (const value of ['-9999', '9999']) assert.equal(show(expectPosted(['post', `priority ${value}`, `--priority=${value}`])).priority, Number(value));
    assert.equal(show(expectPosted(['map', 'm', '--jsonl', '-', '--priority=9999'], '{"title":"c"}\n')).priority, 9999);
    for (const value of ['10000', '-10000', '1.5', '1e3']) {
      expectRefused(['post', 'x', `--priority=${value}`]);
      expectRefused(['map', 'm', '--jsonl', '-', `--priority=${value}`], '{"title":"c"}\n');
      expectRefused(['post', '--jsonl', '-', `--priority=${value}`], '{"title":"c"}\n');
    }
    expectRefused(['post', '--jsonl', '-'], '{"title":"x","priority":10000}\n');
    expectRefused(['map', 'm', '--jsonl', '-'], '{"title":"x","priority":-10000}\n');
  });

  it('--max-attempts (flags and lines): 1 and 100 pass; 0, 101 and fractions are refused', () => {
    for (const value of ['1', '100']) assert.equal(show(expectPosted(['post', `attempts ${value}`, '--max-attempts', value])).maxAttempts, Number(value));
    for (const value of ['0', '101', '2.5']) {
      expectRefused(['post', 'x', `--max-attempts=${value}`]);
      expectRefused(['post', '--jsonl', '-'], `{"title":"x","maxAttempts":${value}}\n`);
    }
  });

  it('--lease-ms (claim, heartbeat): 100 ms and 24 h pass, one past them and fractions are refused', () => {
    for (const value of ['99', '86400001', '1.5']) expectRefused(['claim', '--agent', 'a', `--lease-ms=${value}`]);
    expectPosted(['post', 'to claim', '--priority', '9999']);
    const claim = JSON.parse(swarm(['claim', '--agent', 'a', '--lease-ms', '100']).stdout) as { id: string; token: string };
    assert.equal(swarm(['heartbeat', claim.id, '--token', claim.token, '--lease-ms', '86400000']).code, 0);
    for (const value of ['99', '86400001', '1.5']) expectRefused(['heartbeat', claim.id, '--token', claim.token, `--lease-ms=${value}`]);
    assert.equal(swarm(['complete', claim.id, '--token', claim.token]).code, 0);
  });

  it('swarm run and swarm report: every number flag refuses one past its limits before anything starts', () => {
    const limits: [string, string[]][] = [
      ['--agents', ['0', '65']],
      ['--min-agents', ['-1', '65']],
      ['--idle-timeout-ms', ['99', '86400001']],
      ['--lease-ms', ['999', '3600001']],
      ['--grace-ms', ['-1', '3600001']],
      ['--agent-memory-mb', ['15', '1000001']],
    ];
    for (const [flag, values] of limits) for (const value of [...values, '1.5']) expectRefused(['run', '--until-empty', '--exec', 'true', '--isolation', 'none', `${flag}=${value}`]);
    for (const value of ['-1', '1.5', '1e3', '', '1000001']) expectRefused(['report', `--max-tasks=${value}`]);
    assert.equal(swarm(['report', '--max-tasks', '0', '--json']).code, 0);
  });
});
