// Wraps one shell command in the platform's sandbox. The executors' runner asks a CommandSandbox to
// turn `/bin/sh -c script` into the program and arguments to spawn; everything else about the run
// (process group, timeout, output, cancel) stays the runner's.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BWRAP, bwrapArgs } from './bwrap';
import { buildSandboxPolicy } from './policy';
import { SANDBOX_EXEC, sandboxExecArgs } from './seatbelt';
import type { SandboxPolicy, SandboxScope, SandboxSettings, SandboxTool } from './types';

/** A sandbox the host found working: plain JSON, handed to agents in their init message. */
export interface ActiveSandbox extends Pick<SandboxSettings, 'network' | 'cacheDirs' | 'allowWrite'> {
  tool: SandboxTool;
}

export interface SandboxLaunch {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Removes what the launch made (macOS: its private temp folder). */
  cleanup(): void;
  /** bwrap writes its namespace's init pid as JSON to this fd of the child (the runner passes a pipe). */
  infoFd?: number;
}

export interface CommandSandbox {
  readonly tool: SandboxTool;
  readonly policy: SandboxPolicy;
  /** The spawn of `/bin/sh -c script` in `cwd` inside the wall. */
  launch(script: string, cwd: string, env: NodeJS.ProcessEnv): SandboxLaunch;
}

export interface CommandSandboxOptions {
  /** Paths under $HOME the executor's own CLI writes (agent presets). */
  homeState?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export function createCommandSandbox(active: ActiveSandbox, scope: SandboxScope, options: CommandSandboxOptions = {}): CommandSandbox {
  const policy = buildSandboxPolicy({ scope, settings: active, homeState: options.homeState, env: options.env });
  const shell = (script: string): string[] => ['/bin/sh', '-c', script];
  if (active.tool === 'bwrap') {
    return {
      tool: 'bwrap',
      policy,
      launch: (script, cwd, env) => ({ file: BWRAP, args: ['--info-fd', '3', ...bwrapArgs(policy, cwd, shell(script))], env: { ...env, TMPDIR: '/tmp' }, cleanup: () => undefined, infoFd: 3 }),
    };
  }
  return {
    tool: 'sandbox-exec',
    policy,
    launch: (script, _cwd, env) => {
      const tmpDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-sandbox-')));
      return {
        file: SANDBOX_EXEC,
        args: sandboxExecArgs({ ...policy, tmpDir }, shell(script)),
        env: { ...env, TMPDIR: tmpDir },
        cleanup: () => fs.rmSync(tmpDir, { recursive: true, force: true }),
      };
    },
  };
}
