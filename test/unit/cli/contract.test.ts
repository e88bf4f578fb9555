// The `swarm` CLI contract where adversarial testing found it broken, run as real processes against
// the built dist/cli.js (npm run build first): lease tokens, task lines, warnings, environment errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { removeDir, tempDir } from '../board/helpers';
import { SWARM_CLI, assertCliBuilt, runSwarm, type SwarmRun } from './helpers';

let workspace: string;

function swarm(args: string[], options: { input?: string; board?: string } = {}): SwarmRun {
  return runSwarm(workspace, ['--board', options.board ?? path.join(workspace, '.swarm'), ...args], { input: options.input });
}

function ok(args: string[], options: { input?: string; board?: string } = {}): string {
  const result = swarm(args, options);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function freshBoard(name: string): string {
  return path.join(workspace, name);
}

function waitForExpiry(ms: number): void {
  spawnSync('sleep', [String(ms / 1000)]);
}

before(() => {
  assertCliBuilt();
  workspace = tempDir('swarm-cli-contract-');
});
after(() => removeDir(workspace));

describe('swarm CLI: lease tokens', () => {
  it('a stale holder cannot complete a later attempt claimed under the same agent name (exit 4); the new holder can', () => {
    const board = freshBoard('stale');
    const id = ok(['post', 'contested'], { board }).trim();
    const stale = JSON.parse(ok(['claim', '--agent', 'w1', '--lease-ms', '100'], { board })) as { token: string };
    waitForExpiry(300);
    ok(['reclaim'], { board });
    const fresh = JSON.parse(ok(['claim', '--agent', 'w1'], { board })) as { token: string; attempts: number };
    assert.equal(fresh.attempts, 2);
    assert.notEqual(fresh.token, stale.token);
    for (const command of [['complete', id, '--result', '{"stale":true}'], ['heartbeat', id], ['fail', id, '--error', 'late']]) {
      const late = swarm([...command, '--token', stale.token], { board });
      assert.equal(late.code, 4, `${command[0]}: ${late.stderr}`);
      assert.match(late.stderr, /Lease lost on task .*: the lease expired and w1 now holds the task/);
    }
    ok(['complete', id, '--token', fresh.token, '--result', '{"fresh":true}'], { board });
    assert.deepEqual((JSON.parse(ok(['show', id, '--json'], { board })) as { result: unknown }).result, { fresh: true });
  });

  it('--agent no longer picks a claim: refused with what to do instead, nothing changed', () => {
    const board = freshBoard('agent-flag');
    const id = ok(['post', 'x'], { board }).trim();
    ok(['claim', '--agent', 'w1'], { board });
    for (const command of [['complete', id], ['heartbeat', id], ['fail', id, '--error', 'e']]) {
      const result = swarm([...command, '--agent', 'w1'], { board });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /--agent no longer identifies a claim.*--token/);
    }
    const other = swarm(['complete', id, '--token', 'tzzzzzzzzz~a1~w1~0123abcd.json'], { board });
    assert.equal(other.code, 2);
    assert.match(other.stderr, /belongs to task "tzzzzzzzzz", not /);
    assert.equal((JSON.parse(ok(['show', id, '--json'], { board })) as { status: string }).status, 'running');
  });
});

describe('swarm CLI: task lines', () => {
  it('post --jsonl applies --priority, --max-attempts, --files, --prompt, --type, --payload and --not-before to every line; a line\'s own field wins', () => {
    const board = freshBoard('defaults');
    const lines = '{"title":"plain"}\n{"title":"own","priority":-3,"files":["b.ts"],"prompt":"mine"}\n';
    const ids = ok(['post', '--jsonl', '-', '--priority', '7', '--max-attempts', '5', '--files', 'a.ts', '--prompt', 'shared', '--type', 'fix', '--payload', '{"k":1}', '--not-before', '1h'], { board, input: lines }).trim().split('\n');
    const [plain, own] = ids.map((id) => JSON.parse(ok(['show', id, '--json'], { board })) as Record<string, unknown>);
    assert.deepEqual([plain.priority, plain.maxAttempts, plain.files, plain.prompt, plain.type, plain.payload], [7, 5, ['a.ts'], 'shared', 'fix', { k: 1 }]);
    assert.ok((plain.notBefore as number) > Date.now() + 3_500_000, 'the delay applies too');
    assert.deepEqual([own.priority, own.maxAttempts, own.files, own.prompt], [-3, 5, ['b.ts'], 'mine']);
  });

  it('an unknown or ill-typed field is refused with its line and name (post --jsonl, map); nothing is posted', () => {
    const board = freshBoard('strict');
    const cases: [string[], string, RegExp][] = [
      [['post', '--jsonl', '-'], '{"title":"a"}\n{"title":"b","file":["x.ts"]}\n', /Line 2 of standard input: unknown field "file" \(did you mean "files"\?\)/],
      [['post', '--jsonl', '-'], '{"title":"a","max_attempts":2}\n', /Line 1 .*unknown field "max_attempts" \(did you mean "maxAttempts"\?\)/],
      [['post', '--jsonl', '-'], '{"title":"a","priority":"high"}\n', /Line 1 .*priority Expected number/],
      [['post', '--jsonl', '-'], '{"title":"a","priority":10000}\n', /Line 1 .*priority .*9999/],
      [['post', '--jsonl', '-'], '{"title":"a","notBefore":"9999-12-31"}\n', /Line 1 .*too far in the future/],
      [['post', '--jsonl', '-'], '{"title":"a","files":["../x"]}\n', /Line 1 .*without "\.\."/],
      [['map', 'm', '--jsonl', '-'], '{"title":"a"}\n{"title":"b","parentId":"tabc"}\n', /Line 2 .*unknown field "parentId"/],
      [['map', 'm', '--jsonl', '-'], '{"title":"a","files":[".git/hooks/pre-commit"]}\n', /Line 1 .*\.git folder/],
    ];
    for (const [args, input, message] of cases) {
      const result = swarm(args, { board, input });
      assert.equal(result.code, 2, `${input}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
    assert.deepEqual(JSON.parse(ok(['list', '--json'], { board })), []);
  });

  it('task files that are absolute, contain ".." or lie in .git are refused from flags too', () => {
    const board = freshBoard('files');
    for (const file of ['/etc/passwd', 'a/../../b', '.git/config', 'x/.Git/y']) {
      const result = swarm(['post', 'x', '--files', file], { board });
      assert.equal(result.code, 2, file);
    }
    assert.deepEqual(JSON.parse(ok(['list', '--json'], { board })), []);
  });

  it('map --json prints the child ids', () => {
    const board = freshBoard('map-json');
    const out = JSON.parse(ok(['map', 'm', '--jsonl', '-', '--json'], { board, input: '{"title":"a"}\n{"title":"b"}\n' })) as { id: string; children: number; childIds: string[] };
    assert.equal(out.children, 2);
    assert.deepEqual(out.childIds, [`${out.id}.0000`, `${out.id}.0001`]);
  });
});

describe('swarm CLI: changes made, side effects failed', () => {
  it('an unwritable event log: the command does its work, prints the real outcome, warns on stderr and exits 0', () => {
    const board = freshBoard('no-log');
    ok(['init'], { board });
    fs.mkdirSync(path.join(board, 'events.jsonl'));
    const posted = swarm(['post', 'still posted'], { board });
    assert.equal(posted.code, 0, posted.stderr);
    const id = posted.stdout.trim();
    assert.match(id, /^t[a-z0-9]+$/);
    assert.match(posted.stderr, /^swarm: warning: Task t[a-z0-9]+ was posted, but its 'posted' event was not written to events\.jsonl: a folder is in the way of a file \(EISDIR\)\./m);
    const claimed = swarm(['claim', '--agent', 'w'], { board });
    assert.equal(claimed.code, 0, claimed.stderr);
    const { token } = JSON.parse(claimed.stdout) as { token: string };
    assert.match(claimed.stderr, /'claimed' event was not written/);
    const completed = swarm(['complete', id, '--token', token], { board });
    assert.equal(completed.code, 0);
    assert.equal(completed.stdout.trim(), `${id} done`);
    assert.match(completed.stderr, /'completed' event was not written/);
    assert.doesNotMatch(posted.stderr + claimed.stderr + completed.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('swarm CLI: a reader that closes the pipe early', () => {
  it('list --json | head -c 1: swarm stops quietly (exit 0, no EPIPE stack)', () => {
    const board = freshBoard('pipe');
    ok(['post', '--jsonl', '-'], { board, input: Array.from({ length: 3000 }, (_, i) => JSON.stringify({ title: `task ${i} ${'x'.repeat(100)}` })).join('\n') });
    const errors = path.join(workspace, 'pipe-stderr.txt');
    const command = `"${process.execPath}" "${SWARM_CLI}" --board "${board}" list --json 2>"${errors}" | head -c 1 >/dev/null`;
    const result = spawnSync('bash', ['-o', 'pipefail', '-c', command], { encoding: 'utf8' });
    assert.equal(result.status, 0, fs.readFileSync(errors, 'utf8'));
    assert.equal(fs.readFileSync(errors, 'utf8'), '');
  });
});

describe('swarm CLI: environment errors', () => {
  it('--board naming a file: one line that says what to do, exit 1; --verbose adds the stack of unexpected errors only', () => {
    const file = path.join(workspace, 'not-a-folder');
    fs.writeFileSync(file, 'x');
    const result = swarm(['list'], { board: file });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^swarm: The board path .*not-a-folder is a file, not a folder\. Point --board/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  it('a board path through a file: one line, exit 1; with --verbose also the stack', () => {
    const file = path.join(workspace, 'plain-file');
    fs.writeFileSync(file, 'x');
    const nested = swarm(['post', 'x'], { board: path.join(file, 'board') });
    assert.equal(nested.code, 1);
    assert.match(nested.stderr, /^swarm: The board path .*plain-file\/board goes through a file, not a folder\. Point --board/);
    assert.equal(nested.stderr.trim().split('\n').length, 1);
    const verbose = swarm(['--verbose', 'post', 'x'], { board: path.join(file, 'board') });
    assert.equal(verbose.code, 1);
    assert.match(verbose.stderr, /\n\s+at /, 'the stack with --verbose');
  });
});

describe('swarm CLI: start-up', () => {
  // Which of the split bundles (esbuild.js vendorGroups) a command loaded, printed at exit.
  const probe = "process.on('exit', () => process.stderr.write('loaded:' + Object.keys(require.cache).filter((f) => /Deps\\.js$/.test(f)).map((f) => require('path').basename(f)).join(',') + '\\n'));";

  const builtCli = path.join(__dirname, '..', '..', '..', 'dist', 'cli.js');

  function runProbed(args: string[]): { code: number | null; stdout: string; loaded: string } {
    const result = spawnSync(process.execPath, ['-r', path.join(workspace, 'probe.js'), builtCli, ...args], { cwd: workspace, encoding: 'utf8', env: { ...process.env, SWARM_BOARD: '' } });
    return { code: result.status, stdout: result.stdout, loaded: /loaded:(.*)/.exec(result.stderr)?.[1] ?? `no probe line in: ${result.stderr}` };
  }

  it('--version prints the package version without loading BullMQ or the MCP SDK; a file-board command does not load them either', () => {
    fs.writeFileSync(path.join(workspace, 'probe.js'), probe);
    const version = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
    const printed = runProbed(['--version']);
    assert.equal(printed.code, 0);
    assert.equal(printed.stdout.trim(), version);
    assert.equal(printed.loaded, '');
    const listed = runProbed(['--board', path.join(workspace, 'startup-board'), 'list']);
    assert.equal(listed.code, 0);
    assert.equal(listed.loaded, '');
  });
});
