// Shared fixtures for executor tests: tasks, contexts with a captured log, temp worktrees.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Task } from '../../../src/core/board/types';
import type { ExecutionContext } from '../../../src/core/executors/types';
import { isProcessGone } from '../../../src/core/executors/process';

export function makeTask(overrides: Partial<Task> = {}): Task {
  return {
    id: 't-1',
    title: 'Fix the greeting',
    type: 'fix',
    prompt: 'Make greet() say hello',
    files: [],
    priority: 0,
    payload: undefined,
    status: 'running',
    attempts: 1,
    maxAttempts: 3,
    createdAt: Date.now(),
    updatedAt: Date.now(),
    ...overrides,
  };
}

export interface TestContext extends ExecutionContext {
  output: () => string;
  controller: AbortController;
}

export function makeContext(cwd: string, task: Task = makeTask(), extra: Partial<ExecutionContext> = {}): TestContext {
  const chunks: string[] = [];
  const controller = new AbortController();
  return {
    task,
    cwd,
    signal: controller.signal,
    log: (chunk) => chunks.push(chunk),
    ...extra,
    output: () => chunks.join(''),
    controller,
  };
}

const createdDirs: string[] = [];
// Temp directories go when the test process ends, whatever the outcome.
process.once('exit', () => {
  for (const dir of createdDirs) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'swarm-exec-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  createdDirs.push(dir);
  return dir;
}

/** Writes an executable script. */
export function writeScript(directory: string, name: string, body: string): string {
  const file = path.join(directory, name);
  fs.writeFileSync(file, body, { mode: 0o755 });
  return file;
}

/** Waits until `file` holds at least `count` lines and returns them as pids. */
export async function readPids(file: string, count: number, timeoutMs = 15_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.length >= count) return lines.map(Number);
    if (Date.now() > deadline) throw new Error(`${file} has ${lines.length} of ${count} pids`);
    await sleep(50);
  }
}

export function allGone(pids: number[]): boolean {
  return pids.every(isProcessGone);
}
