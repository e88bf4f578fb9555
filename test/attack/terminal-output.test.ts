// Attack sweep (issue 13, part 4): a task posted by another agent, a result's file names and
// contents, an executor's error and a host status file all reach the reader's terminal through
// `swarm list/show/diff/log/dlq/conflicts/apply/undo/agents/report/run` and error messages. No
// raw control sequence may get there: C0 controls (but line breaks where they belong), ESC, C1
// controls and bidi overrides are shown visibly (\x1b, \u202e). --json stays JSON, and parses back
// to the very same text.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { escapeTerminal, toJson } from '../../src/cli/format';
import { makeWorkspace, runSwarm, runTasks, type Workspace } from '../unit/patch/helpers';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

/** Retitles the terminal, clears it, a C1 CSI (red), a bidi override and isolate, a lone carriage return, a backspace, a bell. */
const EVIL = 'A\x1b]0;pwned\x07B\x1b[2JC\u009b31mD\u202eE\u2066F\rG\x08H\x07';
/** What a terminal must never receive raw (a carriage return only as part of \r\n). */
const RAW_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\r(?!\n)/u;

const swarm = (ws: Workspace, args: string[], env: Record<string, string> = {}) => runSwarm(ws.root, args, env);

function assertClean(output: string, label: string): void {
  const match = RAW_CONTROL.exec(output);
  assert.equal(match, null, `${label}: raw control U+${match?.[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${match?.index} in ${JSON.stringify(output.slice(Math.max(0, (match?.index ?? 0) - 40), (match?.index ?? 0) + 40))}`);
}

/** The visible form of EVIL's pieces is in the output: the reader sees what was there. */
function assertVisible(output: string, label: string): void {
  assert.ok(output.includes('\\x1b]0;pwned\\x07'), `${label}: the escape sequence is shown as text`);
  assert.ok(output.includes('\\u202e'), `${label}: the bidi override is shown as text`);
}

describe('terminal output: every printed field escaped', () => {
  it('escapeTerminal: fields on one line, text keeps its lines; JSON stays the same JSON', () => {
    assert.equal(escapeTerminal('a\x1b[2Jb\u009bc\u202ed\ne\tf'), 'a\\x1b[2Jb\\x9bc\\u202ed\\x0ae\\x09f');
    assert.equal(escapeTerminal('one\r\ntwo\rthree\n\tx\x00', { multiline: true }), 'one\r\ntwo\\x0dthree\n\tx\\x00');
    assert.equal(escapeTerminal('plain — ünïcødé ✓'), 'plain — ünïcødé ✓');
    const json = toJson({ title: EVIL });
    assertClean(json, 'toJson');
    assert.equal(JSON.parse(json).title, EVIL);
  });

  it('list, show, log, dlq, stats, errors and report', async () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n' });
    made.push(ws);
    const task = ws.board.post({ title: `title ${EVIL}`, prompt: `prompt line 1 ${EVIL}\nline 2`, files: [`file${EVIL}.txt`], payload: { note: EVIL }, maxAttempts: 1 });
    const claim = ws.board.claim({ agent: 'agent-1' });
    assert.ok(claim);
    ws.board.fail(claim, `error ${EVIL}`, { permanent: true });
    ws.board.post({ title: `second ${EVIL}` });

    const outputs: Array<[string, string]> = [];
    for (const args of [['list'], ['show', task.id], ['log'], ['dlq', 'list'], ['stats'], ['report']]) {
      const result = swarm(ws, args);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      outputs.push([args.join(' '), result.stdout], [`${args.join(' ')} (stderr)`, result.stderr]);
    }
    for (const [label, output] of outputs) assertClean(output, label);
    for (const label of ['list', 'show ' + task.id, 'dlq list', 'report']) assertVisible(outputs.find(([l]) => l === label)?.[1] ?? '', label);
    const show = outputs.find(([label]) => label === `show ${task.id}`)?.[1] ?? '';
    assert.match(show, /prompt line 1 .*\n\s+line 2/, 'a prompt keeps its own lines');
    const list = outputs.find(([label]) => label === 'list')?.[1] ?? '';
    assert.equal(list.trim().split('\n').length, 3, 'a header and one row per task: nothing spoofs a row');

    // An id full of controls, echoed back in an error message.
    const error = swarm(ws, ['show', `t${EVIL}`]);
    assert.notEqual(error.code, 0);
    assertClean(error.stderr, 'error message');
    assert.match(error.stderr, /\\(x1b|u001b)\]0;pwned/, "the escape is shown, escaped (the board quotes ids as JSON)");

    // JSON: the same text round-trips, with no raw C1 or bidi character in it.
    for (const args of [['list', '--json'], ['show', task.id, '--json'], ['log', '--json'], ['dlq', 'list', '--json'], ['report', '--json']]) {
      const result = swarm(ws, args);
      assert.equal(result.code, 0, result.stderr);
      assertClean(result.stdout, args.join(' '));
    }
    const listed = JSON.parse(swarm(ws, ['list', '--json']).stdout) as Array<{ id: string; title: string }>;
    assert.equal(listed.find((t) => t.id === task.id)?.title, `title ${EVIL}`);
  });

  it('diff (coloured and --stat), apply, conflicts and undo print file names and contents escaped', async () => {
    const ws = makeWorkspace({ 'a.txt': 'one\ntwo\nthree\n' });
    made.push(ws);
    const name = `name${EVIL.replace(/[\x00\r]/g, '')}.txt`;
    const [first, second] = await runTasks(ws, [
      {
        edit: (cwd) => {
          fs.writeFileSync(path.join(cwd, 'a.txt'), `one\nTWO ${EVIL}\nthree\n`);
          fs.writeFileSync(path.join(cwd, name), `content ${EVIL}\n`);
        },
      },
      {
        edit: (cwd) => {
          fs.writeFileSync(path.join(cwd, 'a.txt'), 'one\nzwei\nthree\n');
          fs.writeFileSync(path.join(cwd, name), 'other content\n');
        },
      },
    ]);
    const coloured = swarm(ws, ['diff', first.id], { FORCE_COLOR: '1' });
    assert.equal(coloured.code, 0, coloured.stderr);
    assert.match(coloured.stdout, /\x1b\[32m\+TWO /, 'the diff keeps its own colours');
    assertClean(coloured.stdout.replace(/\x1b\[(?:0|1|31|32|36)m/g, ''), 'diff (colour)');
    assertVisible(coloured.stdout, 'diff (colour)');
    // Piped without colour, the patch stays byte for byte (it can be saved and applied with git).
    const piped = swarm(ws, ['diff', first.id]);
    assert.equal(piped.stdout, fs.readFileSync(path.join(ws.board.artifactsDir(first.id), 'result.patch'), 'utf8'));

    // Each step prints the hostile file name (in a table, a conflict line, a list of restored files).
    for (const args of [['diff', first.id, '--stat'], ['conflicts'], ['apply', first.id], ['apply', second.id], ['undo', first.id]]) {
      const result = swarm(ws, args);
      assertClean(result.stdout, args.join(' '));
      assertClean(result.stderr, `${args.join(' ')} (stderr)`);
      if (args[0] !== 'apply' || args[1] === second.id) assert.ok(result.stdout.includes('nameA\\x1b]0;pwned'), `${args.join(' ')} names the file visibly: ${result.stdout}`);
    }
  });

  it('agents: a host status file written by another process', () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n' });
    made.push(ws);
    const hosts = path.join(ws.board.root, 'hosts');
    fs.mkdirSync(hosts, { recursive: true });
    const now = Date.now();
    const status = {
      hostPid: process.pid,
      boardRoot: ws.board.root,
      mode: `pool${EVIL}`,
      running: true,
      minAgents: 0,
      maxAgents: 2,
      busy: 1,
      idle: 0,
      total: 1,
      agents: [{ id: `agent${EVIL}`, pid: 1, state: `busy${EVIL}`, currentTask: { id: `t${EVIL}`, title: `title ${EVIL}`, startedAt: now }, tasksDone: 0, tasksFailed: 0, startedAt: now }],
      tasksDone: 0,
      tasksFailed: 0,
      busyMs: 0,
      startedAt: now,
      limiters: [],
      pausedUntil: now + 60_000,
      pauseReason: `limit ${EVIL}`,
      spawnBlockedReason: `blocked ${EVIL}`,
      updatedAt: now,
      workspaceRoot: ws.root,
      isolation: `worktree${EVIL}`,
      executor: `exec${EVIL}`,
    };
    fs.writeFileSync(path.join(hosts, `${process.pid}.json`), JSON.stringify(status));
    const result = swarm(ws, ['agents']);
    assert.equal(result.code, 0, result.stderr);
    assertClean(result.stdout, 'agents');
    assertVisible(result.stdout, 'agents');
    assertClean(swarm(ws, ['agents', '--json']).stdout, 'agents --json');
  });

  it('run: progress lines with hostile titles and executor errors', () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n' });
    made.push(ws);
    ws.board.post({ title: `fails ${EVIL}`, maxAttempts: 1 });
    // The executor prints control sequences and fails: its message reaches the progress line.
    const command = `printf 'boom \\033]0;pwned\\007 \\302\\233 \\342\\200\\256\\n' >&2; exit 3`;
    const result = swarm(ws, ['run', '--exec', command, '--until-empty', '--agents', '1', '--mode', 'sequential']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /failed .*fails A\\x1b\]0;pwned/);
    assertClean(result.stdout, 'run');
    assertClean(result.stderr, 'run (stderr)');
  });
});
