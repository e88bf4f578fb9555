// The built `swarm` (dist/cli.js, `npm run build` first) run as a real process, for the CLI tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SWARM_CLI = path.join(__dirname, '..', '..', '..', 'dist', 'cli.js');

export interface SwarmRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Fails with what to do when dist/cli.js is missing, instead of every test failing obscurely. */
export function assertCliBuilt(): void {
  assert.ok(fs.existsSync(SWARM_CLI), 'dist/cli.js is built (npm run build)');
}

/** `swarm ...args` in `cwd`; SWARM_BOARD from the test's environment is cleared unless `env` sets it. */
export function runSwarm(cwd: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SwarmRun {
  const result = spawnSync(process.execPath, [SWARM_CLI, ...args], {
    cwd,
    input: options.input,
    encoding: 'utf8',
    env: { ...process.env, SWARM_BOARD: '', ...options.env },
    timeout: options.timeoutMs ?? 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
