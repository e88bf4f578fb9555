// `swarm` loads the modules of `run`, `report`, `agents` and `mcp` (the pool, executors, sandbox,
// MCP server: a third of the bundle) only when one of them runs or help is asked for: the board and
// apply commands start without them. Every command is still there, also after global options.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeDir, tempDir } from '../board/helpers';
import { SWARM_CLI, assertCliBuilt, runSwarm } from './helpers';

let workspace: string;

before(() => {
  assertCliBuilt();
  workspace = tempDir('swarm-lazy-');
});
after(() => removeDir(workspace));

/** Node's own modules a `swarm` command loaded, by name. */
function builtinsLoadedBy(args: string[]): string[] {
  const probe = `process.argv = [process.argv[0], ${JSON.stringify(SWARM_CLI)}, ...${JSON.stringify(args)}];
process.on('exit', () => process.stderr.write('LOADED ' + process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join(',') + '\\n'));
require(${JSON.stringify(SWARM_CLI)});`;
  const result = spawnSync(process.execPath, ['-e', probe], { cwd: workspace, encoding: 'utf8', env: { ...process.env, SWARM_BOARD: '' }, timeout: 60_000 });
  const line = result.stderr.split('\n').find((candidate) => candidate.startsWith('LOADED '));
  assert.ok(line, result.stderr);
  return line.slice('LOADED '.length).split(',');
}

describe('swarm commands loaded on demand', () => {
  it('a board command starts without the modules only run, report, agents and mcp use (readline is one)', () => {
    assert.equal(runSwarm(workspace, ['init']).code, 0);
    assert.ok(!builtinsLoadedBy(['list', '--json']).includes('readline'), 'swarm list loaded readline');
    assert.ok(builtinsLoadedBy(['run', '--help']).includes('readline'), 'the probe no longer sees the run command load readline: pick another module it alone uses');
  });

  it('help lists every command, and each runs after global options', () => {
    const help = runSwarm(workspace, ['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const name of ['init', 'post', 'map', 'list', 'apply', 'undo', 'run', 'report', 'agents', 'mcp']) assert.match(help.stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
    const board = path.join(workspace, '.swarm');
    const run = runSwarm(workspace, ['--verbose', '--board', board, 'run', '--help']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /--agents/);
    const report = runSwarm(workspace, [`--board=${board}`, 'report', '--help']);
    assert.equal(report.code, 0, report.stderr);
  });

  it('a board folder named like a command is the board, not the command', () => {
    const named = path.join(workspace, 'run');
    fs.mkdirSync(named);
    const listed = runSwarm(workspace, ['--board', named, 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), []);
  });

  it('a mistyped command is still refused with the usage exit code', () => {
    const typo = runSwarm(workspace, ['rnu']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown command/);
  });
});
