// Sandboxed commands: every command of an attempt (executor, agent CLI, verify, worktree setup) runs
// where it can write only its worktree slot, a private temp folder and the caches the configuration
// names. Linux: bubblewrap; macOS: sandbox-exec (untested on a real Mac). See docs/sandbox.md.
export * from './types';
export { probeSandbox, forgetSandboxProbes, LINUX_INSTALL_HINT, type ProbeResult, type ProbeOptions } from './probe';
export { buildSandboxPolicy, fromHome, isInside, type PolicyInput } from './policy';
export { bwrapArgs } from './bwrap';
export { seatbeltProfile, sandboxExecArgs, sbplString } from './seatbelt';
export { createCommandSandbox, type ActiveSandbox, type CommandSandbox, type SandboxLaunch, type CommandSandboxOptions } from './launcher';
export { RefusalCollector, describeRefusals, refusedPathOf, ALLOW_HINT } from './refusals';
export { resolveSandbox, describeSandbox, type ResolvedSandbox } from './status';
