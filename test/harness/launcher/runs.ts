// What an integration run is (a set of suite files, the fixture workspace they open and the trust
// mode), and how suite files are assigned to the runs listed in test/integration/runs.ts.
import * as path from 'path';

export interface IntegrationRun {
  /** Short name, shown in the output and usable with `--run NAME`. */
  name: string;
  /**
   * Globs, relative to test/integration/, of the suite files this run loads (`*` within a folder,
   * `**` across folders). Omitted: every suite file that no other run's globs match.
   */
  suites?: string[];
  /** Folder under test/fixtures/ that is copied to a temporary folder and opened as the workspace. */
  fixture: string;
  /** false: workspace trust stays on and the folder is not trusted (Restricted Mode). Default true. */
  trusted?: boolean;
  /** Make the workspace copy a git repository with one commit. Default false. */
  git?: boolean;
  /** User settings for this run, on top of the harness defaults. */
  settings?: Record<string, unknown>;
  /** Time for the whole run in ms; default $SWARM_TEST_TIMEOUT_MS or 5 minutes. */
  timeoutMs?: number;
}

/** A run with the suite files it will load (absolute .ts paths). */
export interface PlannedRun extends IntegrationRun {
  files: string[];
}

/** Turns a glob into a regular expression over '/'-separated relative paths. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

function matchesAny(relative: string, globs: string[]): boolean {
  return globs.some((glob) => globToRegExp(glob).test(relative));
}

/**
 * Assigns suite files (absolute paths under `suiteRoot`) to runs. A file may belong to several runs
 * that name it; a file no run names goes to the runs without `suites`.
 */
export function planRuns(runs: IntegrationRun[], files: string[], suiteRoot: string): PlannedRun[] {
  const names = new Set<string>();
  for (const run of runs) {
    if (names.has(run.name)) throw new Error(`two integration runs are named ${run.name}`);
    names.add(run.name);
  }
  const relative = (file: string) => path.relative(suiteRoot, file).split(path.sep).join('/');
  const claimed = new Set(files.filter((file) => runs.some((run) => run.suites && matchesAny(relative(file), run.suites))));
  return runs.map((run) => ({
    ...run,
    files: files.filter((file) => (run.suites ? matchesAny(relative(file), run.suites) : !claimed.has(file))).sort(),
  }));
}
