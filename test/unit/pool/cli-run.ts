// Temp workspaces for tests that run the built CLI (run `npm run build` first): each test's folders
// are removed after it, and `swarm` runs the CLI in one with its board, as a user in a terminal would.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, before } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';

export const dist = path.join(__dirname, '..', '..', '..', 'dist');
export const cli = path.join(dist, 'cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The CLI's pid: the processes it starts for attempts carry SWARM_HOST=<pid>.<start time>. */
  pid: number;
}

export interface CliWorkspaces {
  workspace(): { dir: string; board: FileBoard };
  swarm(dir: string, args: string[], env?: NodeJS.ProcessEnv): CliResult;
  /** Another folder to remove after the test. */
  removeAfter(dir: string): void;
}

/** Registers the checks and clean-up of the calling test file; `prefix` names its temp folders. */
export function cliWorkspaces(prefix: string): CliWorkspaces {
  const dirs: string[] = [];
  before(() => {
    assert.ok(fs.existsSync(cli) && fs.existsSync(path.join(dist, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
  });
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    removeAfter: (dir) => void dirs.push(dir),
    workspace() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(dir);
      return { dir, board: FileBoard.open({ root: path.join(dir, '.swarm'), durable: false }) };
    },
    swarm(dir, args, env = process.env) {
      const result = spawnSync(process.execPath, [cli, '--board', path.join(dir, '.swarm'), ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000, env });
      // A command the timeout ended says so, instead of looking like an ordinary exit code.
      const ended = result.error ? `\n[swarm ${args.join(' ')}: ${result.error.message}, signal ${result.signal}]` : '';
      return { code: result.status, stdout: result.stdout, stderr: result.stderr + ended, pid: result.pid };
    },
  };
}
