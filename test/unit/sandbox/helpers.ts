// Sandbox test helpers. These tests run the real bwrap: a machine without it fails them with the
// package to install, never skips them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Fails the test (not a skip) when bubblewrap is missing or unusable, naming the package. */
export function requireBwrap(): void {
  assert.equal(process.platform, 'linux', 'the bubblewrap tests run on Linux (sandbox-exec on macOS is tested as text only)');
  const probe = spawnSync('bwrap', ['--die-with-parent', '--unshare-pid', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', 'true'], { encoding: 'utf8' });
  if (probe.error) assert.fail(`bwrap is not installed: install the package "bubblewrap" (sudo apt-get install bubblewrap). ${probe.error.message}`);
  assert.equal(probe.status, 0, `bwrap is installed but cannot build a sandbox here (the "bubblewrap" package needs user namespaces or root): ${probe.stderr}`);
}

/** Live processes whose command line is exactly `argv` (found through /proc, whatever their pid namespace). */
export function processesWithArgs(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8') === wanted) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** A unique `sleep` duration, so a test finds exactly its own sleeper in /proc. */
export function uniqueSleep(): string {
  return String(100_000 + Math.floor(Math.random() * 800_000));
}

const madeDirs: string[] = [];
process.once('exit', () => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A temp folder (real path), removed when the test process ends. */
export function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  madeDirs.push(dir);
  return dir;
}

export async function waitUntil(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
