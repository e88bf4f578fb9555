// macOS back end: a sandbox-exec (Seatbelt, SBPL) profile with the same rules as the Linux wall.
// Generated and unit-tested as text only; it has not been run on a real Mac (docs/sandbox.md says
// so). SBPL applies the last matching rule, so the policy's layers keep their order here too.
// macOS has no PID namespace: ending every process a command started relies on process groups and
// descendants there, as without a sandbox.
import type { SandboxPolicy } from './types';

export const SANDBOX_EXEC = '/usr/bin/sandbox-exec';

/** Device files every shell writes to. */
const DEVICE_RULES = ['(literal "/dev/null")', '(literal "/dev/zero")', '(literal "/dev/tty")', '(literal "/dev/dtracehelper")', '(regex #"^/dev/fd/")', '(regex #"^/dev/ttys[0-9]+$")'];

export function seatbeltProfile(policy: SandboxPolicy): string {
  const lines = ['(version 1)', '(allow default)', '(deny file-write*)', `(allow file-write* ${DEVICE_RULES.join(' ')})`];
  if (policy.tmpDir) lines.push(`(allow file-write* (subpath ${sbplString(policy.tmpDir)}))`);
  for (const mount of policy.mounts) lines.push(`(${mount.write ? 'allow' : 'deny'} file-write* (subpath ${sbplString(mount.path)}))`);
  for (const socket of policy.masked ?? []) lines.push(`(deny network-outbound (remote unix-socket (path-literal ${sbplString(socket)})))`);
  if (!policy.network) lines.push('(deny network-outbound (remote ip))', '(deny network-inbound (local ip))');
  return `${lines.join('\n')}\n`;
}

export function sandboxExecArgs(policy: SandboxPolicy, command: readonly string[]): string[] {
  return ['-p', seatbeltProfile(policy), ...command];
}

/** An SBPL string literal: backslashes and quotes escaped, control characters written out. */
export function sbplString(value: string): string {
  const escaped = value.replace(/[\\"]/g, (char) => `\\${char}`).replace(/[\x00-\x1f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${escaped}"`;
}
