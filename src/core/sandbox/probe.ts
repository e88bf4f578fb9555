// Is a sandbox available here? bwrap may be installed and still unusable (no unprivileged user
// namespaces, a container without the capability), so the probe runs it once the way commands will
// run, `bwrap ... true`, and remembers the answer for the life of the process.
import { spawnSync } from 'node:child_process';
import type { SandboxTool } from './types';

export type ProbeResult = { available: true; tool: SandboxTool } | { available: false; reason: string };

export const LINUX_INSTALL_HINT = 'sudo apt-get install bubblewrap (Fedora: sudo dnf install bubblewrap)';

const PROBE_TIMEOUT_MS = 10_000;
const cache = new Map<string, ProbeResult>();

export interface ProbeOptions {
  /** Environment used to find the tool (its PATH); default the process's. */
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}

/** Probes once per platform, network choice and PATH; later calls return the remembered answer. */
export function probeSandbox(network: boolean, options: ProbeOptions = {}): ProbeResult {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const key = `${platform}|${network}|${env.PATH ?? ''}`;
  let result = cache.get(key);
  if (!result) {
    result = runProbe(platform, network, env);
    cache.set(key, result);
  }
  return result;
}

/** Tests only: forget remembered probes. */
export function forgetSandboxProbes(): void {
  cache.clear();
}

function runProbe(platform: NodeJS.Platform, network: boolean, env: NodeJS.ProcessEnv): ProbeResult {
  if (platform === 'linux') return probeBwrap(network, env);
  if (platform === 'darwin') return probeSandboxExec(env);
  return { available: false, reason: `no sandbox is supported on ${platform} (bubblewrap on Linux, sandbox-exec on macOS)` };
}

function probeBwrap(network: boolean, env: NodeJS.ProcessEnv): ProbeResult {
  const args = ['--die-with-parent', '--unshare-pid', '--cap-drop', 'ALL', ...(network ? [] : ['--unshare-net']), '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--', 'true'];
  const run = spawnSync('bwrap', args, { env, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return { available: false, reason: `bubblewrap (bwrap) is not installed; install it with: ${LINUX_INSTALL_HINT}` };
  }
  if (run.error) return { available: false, reason: `bubblewrap could not be started (${run.error.message})` };
  if (run.status !== 0) {
    const said = (run.stderr ?? '').trim().split('\n')[0] || `exit ${run.status ?? run.signal}`;
    return {
      available: false,
      reason: `bubblewrap is installed but cannot build its sandbox here (${said}); it needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04+ an AppArmor profile for bwrap) or a setuid bwrap`,
    };
  }
  return { available: true, tool: 'bwrap' };
}

function probeSandboxExec(env: NodeJS.ProcessEnv): ProbeResult {
  const run = spawnSync('/usr/bin/sandbox-exec', ['-p', '(version 1)(allow default)', '/usr/bin/true'], { env, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.error) return { available: false, reason: `sandbox-exec could not be started (${run.error.message})` };
  if (run.status !== 0) return { available: false, reason: `sandbox-exec refused a trivial profile (${(run.stderr ?? '').trim().split('\n')[0] || `exit ${run.status}`})` };
  return { available: true, tool: 'sandbox-exec' };
}
