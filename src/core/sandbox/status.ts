// The host's one decision per pool: sandbox or not, and why not. Made once at start (the probe runs
// a real `bwrap ... true`), so every attempt of the run gets the same answer.
import { probeSandbox, type ProbeOptions } from './probe';
import type { ActiveSandbox } from './launcher';
import { SandboxUnavailableError, type SandboxSettings, type SandboxStatus } from './types';

export interface ResolvedSandbox {
  status: SandboxStatus;
  /** Set when commands run sandboxed. */
  active?: ActiveSandbox;
}

/** Throws SandboxUnavailableError in `required` mode when no sandbox works here, naming the install command. */
export function resolveSandbox(settings: SandboxSettings, options: ProbeOptions = {}): ResolvedSandbox {
  const { mode, network } = settings;
  if (mode === 'off') return { status: { mode, active: false, network, reason: 'the sandbox is switched off (sandbox "off")' } };
  const probe = probeSandbox(network, options);
  if (probe.available) {
    return {
      status: { mode, active: true, tool: probe.tool, network },
      active: { tool: probe.tool, network, cacheDirs: settings.cacheDirs, allowWrite: settings.allowWrite },
    };
  }
  if (mode === 'required') {
    throw new SandboxUnavailableError(`The sandbox is required (sandbox "required"), but ${probe.reason}. Nothing was run. Install it, or choose sandbox "auto" or "off".`);
  }
  return { status: { mode, active: false, network, reason: probe.reason } };
}

/** One line for the run header, the Pool view and the log. */
export function describeSandbox(status: SandboxStatus): string {
  if (status.active) return `Sandbox: ${status.tool === 'bwrap' ? 'bubblewrap' : 'sandbox-exec'}, network ${status.network ? 'on' : 'off'}; commands write only their worktree.`;
  return `Sandbox: none (${status.reason ?? 'not available'}). Commands can write outside their worktree; changes to your checkout and the repository's git config and hooks are detected and flagged.`;
}
