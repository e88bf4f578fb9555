// User errors of the core reach the CLI as one line on stderr and the exit code of their kind
// (config: 2), not as "unexpected error" with exit 1. Run as a real process against dist/cli.js.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeDir, tempDir } from '../board/helpers';

const cli = path.join(__dirname, '..', '..', '..', 'dist', 'cli.js');
let workspace: string;

function swarm(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: workspace, encoding: 'utf8', env: { ...process.env, SWARM_BOARD: '' }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

before(() => {
  assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
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

  it('a result action on an unknown task is an input error (exit 2); a refused one exits 1', () => {
    fs.rmSync(path.join(workspace, 'swarm.config.json'), { force: true });
    const unknown = swarm(['undo', 'tnope']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /^swarm: .*tnope/);
    assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
  });
});
