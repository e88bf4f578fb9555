// Shared by the attack tests: real tmpfs mounts (a full disk, a read-only file system), files
// that fill a file system to an exact number of free pages, and a board's file listing.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';

export const PAGE = 4096;

/** Mounting needs root; a test that cannot mount fails with this message instead of skipping. */
export function requireRoot(): void {
  assert.equal(process.getuid?.(), 0, 'this attack test mounts tmpfs file systems and must run as root (the development machine and CI do)');
}

export function mountTmpfs(dir: string, sizeKb: number, inodes?: number): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k${inodes ? `,nr_inodes=${inodes}` : ''}`, 'tmpfs', dir]);
}

/** Bind-mounts `target` onto itself read-only (a file or a folder). */
export function mountReadOnly(target: string): void {
  execFileSync('mount', ['--bind', target, target]);
  execFileSync('mount', ['-o', 'remount,ro,bind', target]);
}

/** Unmounts, retrying while the mount is busy; never throws (teardown must go on). */
export function unmount(target: string): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      execFileSync('umount', [target], { stdio: 'ignore' });
      return;
    } catch {
      execFileSync('sleep', ['0.1']);
    }
  }
  try {
    execFileSync('umount', ['-l', target], { stdio: 'ignore' });
  } catch {
    // Nothing more to do: the next run mounts elsewhere.
  }
}

export function isMounted(target: string): boolean {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === target);
}

/**
 * Fills the file system of `dir` with `filler`, then frees exactly `freePages` pages, so the next
 * writes succeed for that many pages and then fail with ENOSPC.
 */
export function fillLeaving(filler: string, freePages: number): void {
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(PAGE, 0x61);
  let size = 0;
  try {
    for (;;) {
      const written = fs.writeSync(fd, chunk, 0, PAGE);
      size += written;
      if (written < PAGE) break;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  const whole = Math.floor(size / PAGE) * PAGE;
  fs.ftruncateSync(fd, Math.max(0, whole - freePages * PAGE));
  fs.closeSync(fd);
}

/** Uses up the inodes of the file system of `dir` (empty files in `fillerDir`), then frees exactly `freeInodes`. */
export function fillInodesLeaving(fillerDir: string, freeInodes: number): void {
  fs.mkdirSync(fillerDir);
  const made: string[] = [];
  try {
    for (let i = 0; ; i++) {
      const file = path.join(fillerDir, String(i));
      fs.closeSync(fs.openSync(file, 'wx'));
      made.push(file);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  for (const file of made.slice(0, freeInodes)) fs.unlinkSync(file);
}

/** Makes a file's size a whole number of pages, so the next append needs a new page (a line readers skip). */
export function padToPage(file: string): void {
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  let pad = PAGE - (size % PAGE);
  if (pad < 2) pad += PAGE;
  fs.appendFileSync(file, ' '.repeat(pad - 1) + '\n');
}

/** Every file under `root` (relative path → size), folders left out: what an operation changed. */
export function snapshot(root: string, skip: (relative: string) => boolean = () => false): Map<string, number> {
  const files = new Map<string, number>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const relative = path.relative(root, full);
      if (skip(relative)) continue;
      if (entry.isDirectory()) walk(full);
      else files.set(relative, fs.lstatSync(full).size);
    }
  };
  walk(root);
  return files;
}

export function diffSnapshots(before: Map<string, number>, after: Map<string, number>): string[] {
  const changes: string[] = [];
  for (const [file, size] of after) if (before.get(file) !== size) changes.push(before.has(file) ? `changed ${file}` : `added ${file}`);
  for (const file of before.keys()) if (!after.has(file)) changes.push(`removed ${file}`);
  return changes.sort();
}
