// Scratch folders and fixture workspaces. Fixtures (test/fixtures/<name>/) are copied into a fresh
// temporary folder for every run, so tests may write to their workspace without dirtying the repo.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const FIXTURES_DIR = path.join(ROOT, 'test', 'fixtures');
export const RESULTS_DIR = path.join(ROOT, 'test-results');

/** A new scratch folder for one run (under $SWARM_TEST_TMPDIR or the system temp folder). */
export function makeScratch(label: string): string {
  const base = process.env.SWARM_TEST_TMPDIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, `agent-swarm-${label.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
}

/** Git identity for fixture commits, whatever the machine's git config says (CI has none). */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Agent Swarm Tests',
  GIT_AUTHOR_EMAIL: 'tests@agent-swarm.invalid',
  GIT_COMMITTER_NAME: 'Agent Swarm Tests',
  GIT_COMMITTER_EMAIL: 'tests@agent-swarm.invalid',
};

export interface WorkspaceOptions {
  /** Folder name under test/fixtures/, or an absolute path to a folder to copy. */
  fixture: string;
  /** Make the copy a git repository with one commit of everything in it. */
  git?: boolean;
}

/** Copies the fixture into `<scratch>/workspace` (optionally a fresh git repo) and returns its path. */
export function prepareWorkspace(scratch: string, options: WorkspaceOptions): string {
  const source = path.isAbsolute(options.fixture) ? options.fixture : path.join(FIXTURES_DIR, options.fixture);
  if (!fs.existsSync(source)) throw new Error(`fixture ${options.fixture} not found (looked in ${source})`);
  const workspace = path.join(scratch, 'workspace');
  fs.cpSync(source, workspace, { recursive: true });
  if (options.git) {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: workspace, stdio: 'pipe', env: { ...process.env, ...GIT_IDENTITY } });
    git('init', '--quiet', '--initial-branch=main');
    git('config', 'user.name', GIT_IDENTITY.GIT_AUTHOR_NAME);
    git('config', 'user.email', GIT_IDENTITY.GIT_AUTHOR_EMAIL);
    git('config', 'commit.gpgsign', 'false');
    git('add', '--all');
    git('commit', '--quiet', '--allow-empty', '-m', 'fixture');
  }
  return workspace;
}

export function removeQuietly(target: string): void {
  try {
    fs.rmSync(target, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort: a temp folder left behind is not a test failure
  }
}

/** Keep scratch folders after the run (for debugging), by SWARM_TEST_KEEP=1. */
export function keepScratch(): boolean {
  return process.env.SWARM_TEST_KEEP === '1';
}
