// A real board inside a real temp repository, and a way to run a "task" through worktree isolation
// with an edit function playing the agent.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { FileBoardEngine as FileBoard, type TaskSpec, type Task } from '../../../src/core/board';
import { createWorktreeIsolation, type WorktreeIsolation } from '../../../src/core/worktree';
import { makeRepo, type TempRepo } from '../worktree/helpers';

export interface Workspace extends TempRepo {
  board: FileBoard;
  isolation: WorktreeIsolation;
}

export function makeWorkspace(files?: Record<string, string | Buffer>): Workspace {
  const repo = makeRepo(files);
  const board = FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false });
  const isolation = createWorktreeIsolation({ workspaceRoot: repo.root, include: [] });
  return { ...repo, board, isolation, cleanup: () => { board.close(); repo.cleanup(); } };
}

export type AgentEdit = (cwd: string) => void | Promise<void>;

/** Posts, claims, prepares, lets `edits` run in their worktrees (all prepared before any edit), collects and completes. */
export async function runTasks(ws: Workspace, jobs: Array<{ spec?: Partial<TaskSpec>; edit: AgentEdit }>): Promise<Task[]> {
  const claims = jobs.map((job, index) => {
    ws.board.post({ title: `task ${index}`, ...job.spec });
    const claim = ws.board.claim({ agent: `agent-${index}` });
    if (!claim) throw new Error('nothing to claim');
    return claim;
  });
  const prepared = [];
  for (const [index, claim] of claims.entries()) prepared.push(await ws.isolation.prepare(claim.task, String(index), ws.board.artifactsDir(claim.task.id)));
  for (const [index, job] of jobs.entries()) await job.edit(prepared[index].cwd);
  const done: Task[] = [];
  for (const [index, claim] of claims.entries()) {
    const changes = await ws.isolation.collect(claim.task, String(index), prepared[index], ws.board.artifactsDir(claim.task.id));
    done.push(ws.board.complete(claim, { summary: 'ok', executor: 'test', durationMs: 1, ...changes }));
  }
  return done;
}

const REPO = path.join(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'src', 'cli', 'main.ts');
// The workspace is a temp folder: load tsx from this repository, not from the cwd.
const TSX = pathToFileURL(path.join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface SwarmRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `swarm` as a real process (the CLI source through tsx) in `cwd`; colour variables unset unless
 * `env` sets them. `timeoutMs`: when it is killed (a test that checks it ends sets less).
 */
export function runSwarm(cwd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): SwarmRun {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.NO_COLOR;
  delete base.FORCE_COLOR;
  const result = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { cwd, encoding: 'utf8', env: { ...base, ...env }, timeout: timeoutMs });
  // A command the timeout ended says so, instead of failing with an empty message and code null.
  const ended = result.error ? `\n[swarm ${args.join(' ')}: ${result.error.message}, signal ${result.signal}]` : '';
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr + ended };
}

/** The output of a `swarm` run that must have succeeded; otherwise fails naming `what` and its stderr. */
export function succeeded(run: SwarmRun, what: string): string {
  assert.equal(run.code, 0, `${what} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}
