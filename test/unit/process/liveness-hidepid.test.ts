// Another user's process that /proc hides (mounted with hidepid=2, as hardened hosts do) is alive:
// kill(pid, 0) answers EPERM and its state cannot be read. The board's repair and the format
// upgrade ask isProcessAlive whether a writer or an older build is still there; a hidden live
// process counted as dead would have its work rolled back or the board upgraded under it.
// Runs the check as user nobody in a mount namespace of its own with a hidepid /proc (root only).
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildSync } from 'esbuild';

const NOBODY = 65534;

function bundleReport(dir: string): string {
  const outfile = path.join(dir, 'liveness-report.js');
  buildSync({ entryPoints: [path.join(__dirname, 'fixtures', 'liveness-report.ts')], bundle: true, platform: 'node', outfile, logLevel: 'warning' });
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(outfile, 0o644);
  return outfile;
}

/** A pid that just exited (and was reaped). */
function exitedPid(): number {
  const result = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(result.stdout.trim());
}

test('a live process (and group) of another user hidden by hidepid=2 is alive; an exited one is not', () => {
  assert.equal(process.getuid?.(), 0, 'this test mounts a hidepid /proc in a mount namespace of its own and runs as nobody: run it as root (the development machine and CI do). It does not skip.');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-hidepid-'));
  // Root's process, leader of a group of its own: from nobody, kill(pid, 0) and kill(-pid, 0)
  // answer EPERM, and /proc/<pid> is hidden.
  const rootsProcess = spawn('sleep', ['120'], { detached: true, stdio: 'ignore' });
  try {
    const report = bundleReport(dir);
    const gone = exitedPid();
    const hidden = rootsProcess.pid as number;
    const script = `mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups "$0" "$1" ${hidden} ${gone}`;
    const out = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, report], { encoding: 'utf8' });
    const alive = JSON.parse(out) as Record<string, { process: boolean; group: boolean }>;
    assert.deepEqual(alive[String(hidden)], { process: true, group: true }, "root's process and its group, hidden from nobody, are alive");
    assert.deepEqual(alive[String(gone)], { process: false, group: false }, 'a pid that exited is not, nor its group');
  } finally {
    rootsProcess.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
