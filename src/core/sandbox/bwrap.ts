// Linux back end: bubblewrap arguments for one command. The whole file system is mounted read-only,
// /dev and /proc are fresh, /tmp is a private tmpfs (with the host paths the command must still see
// bound back read-only), the policy's layers follow in order, and the command runs in its own PID
// namespace that dies with its parent: when the command ends, is cancelled, or its agent is killed,
// every process it started ends too, daemonised ones included.
import * as path from 'node:path';
import { isInside } from './policy';
import type { SandboxPolicy } from './types';

export const BWRAP = 'bwrap';
const PRIVATE_TMP = '/tmp';

export function bwrapArgs(policy: SandboxPolicy, cwd: string, command: readonly string[]): string[] {
  // No capabilities: run as root, bwrap would otherwise keep them all, and a command could simply
  // `mount -o remount,rw /` and write anywhere.
  const args = ['--die-with-parent', '--unshare-pid', '--cap-drop', 'ALL'];
  if (!policy.network) args.push('--unshare-net');
  args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', PRIVATE_TMP);
  // A folder a later layer binds as a whole (the command's own folder, usually) needs no read-only
  // bind first: every mount is work for bwrap on every command.
  const bound = (entry: string) => policy.mounts.some((mount) => isInside(entry, mount.path));
  for (const folder of outermost(policy.visible.filter((entry) => isInside(entry, PRIVATE_TMP) && entry !== PRIVATE_TMP && !bound(entry)))) {
    args.push('--ro-bind', folder, folder);
  }
  for (const mount of policy.mounts) args.push(mount.write ? '--bind' : '--ro-bind', mount.path, mount.path);
  for (const socket of policy.masked ?? []) args.push('--ro-bind', '/dev/null', socket);
  args.push('--chdir', cwd, '--setenv', 'TMPDIR', PRIVATE_TMP, '--', ...command);
  return args;
}

/** Folders not inside another one of the list, shortest first (binding a parent shows its children). */
function outermost(folders: readonly string[]): string[] {
  const sorted = [...new Set(folders)].sort((a, b) => a.split(path.sep).length - b.split(path.sep).length);
  return sorted.filter((folder, index) => !sorted.slice(0, index).some((earlier) => isInside(folder, earlier)));
}
