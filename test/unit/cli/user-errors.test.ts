// User errors of the core reach the CLI as one line on stderr and the exit code of their kind
// (config: 2), not as "unexpected error" with exit 1. Run as a real process against dist/cli.js.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeDir, tempDir } from '../board/helpers';
import { assertCliBuilt, runSwarm, type SwarmRun } from './helpers';

let workspace: string;

function swarm(args: string[]): SwarmRun {
  return runSwarm(workspace, args, { timeoutMs: 60_000 });
}

before(() => {
  assertCliBuilt();
  workspace = tempDir('swarm-cli-errors-');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: workspace, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(workspace, 'a.txt'), 'a\n');
  git('add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'initial');
});

after(() => removeDir(workspace));

describe('swarm: core user errors', () => {
  it('a worktrees folder inside the checkout: one line naming the setting, exit 2', () => {
    fs.writeFileSync(path.join(workspace, 'swarm.config.json'), JSON.stringify({ worktrees: { dir: path.join(workspace, 'build', 'worktrees') } }));
    const result = swarm(['worktrees']);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^swarm: The worktrees folder .*build\/worktrees is inside your checkout .*Set "worktrees\.dir" in swarm\.config\.json to a folder outside the checkout/);
  });

  it('an invalid swarm.config.json: swarm worktrees refuses (exit 2) instead of listing or pruning the default folder', () => {
    fs.writeFileSync(path.join(workspace, 'swarm.config.json'), '{"worktrees": {"dir": ');
    for (const args of [['worktrees'], ['worktrees', '--prune']]) {
      const result = swarm(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /swarm\.config\.json is invalid, so no worktree was listed or removed:/);
      assert.match(result.stderr, /Fix the file \(or move it away\) and run again\./);
      assert.equal(result.stdout, '');
    }
  });

  it('a result action on an unknown task is an input error (exit 2); a refused one exits 1', () => {
    fs.rmSync(path.join(workspace, 'swarm.config.json'), { force: true });
    const unknown = swarm(['undo', 'tnope']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /^swarm: .*tnope/);
    assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
  });
});
