// The one contract between the test module running inside the extension host (test/harness/host)
// and the launcher outside it (test/harness/launcher): the run configuration the launcher hands in,
// and the events the host appends, one JSON object a line, to the results file.
//
// A file, not a socket: it works the same under code-server and @vscode/test-electron, whatever
// process the extension host runs in, and what was written before a crash or a hang stays readable.

/** What one run inside the extension host should do; written by the launcher as JSON. */
export interface HostRunConfig {
  /** Name of the run (from test/integration/runs.ts), for messages. */
  run: string;
  /** Absolute paths of the compiled suite files to load, in order. */
  files: string[];
  /** Absolute path of the results file to append events to; absent: print to the console only. */
  resultsFile?: string;
  /** Only tests whose full title matches this regular expression run. */
  grep?: string;
  /** Mocha's per-test timeout in milliseconds (0: none). */
  testTimeoutMs: number;
}

/** Environment variable naming a JSON file with a {@link HostRunConfig}, when no entry file carries one. */
export const HOST_CONFIG_ENV = 'SWARM_TEST_HOST_CONFIG';

export interface StartEvent {
  type: 'start';
  run: string;
  /** Tests that will run (after grep). */
  total: number;
  vscodeVersion: string;
  /** `vscode.env.appName` and `uiKind`, to tell code-server from desktop VS Code. */
  appName: string;
  uiKind: 'desktop' | 'web';
  node: string;
  workspaceTrusted: boolean;
  workspaceFolders: string[];
}

export interface SuiteEvent {
  type: 'suite';
  title: string;
  /** 1 for a top-level suite. */
  depth: number;
}

export interface TestStartEvent {
  type: 'test-start';
  fullTitle: string;
}

export interface PassEvent {
  type: 'pass';
  title: string;
  fullTitle: string;
  file?: string;
  durationMs: number;
  depth: number;
}

export interface FailEvent {
  type: 'fail';
  title: string;
  fullTitle: string;
  file?: string;
  durationMs?: number;
  depth: number;
  message: string;
  /** Stack trace, mapped back to the TypeScript sources where a source map exists. */
  stack?: string;
  expected?: string;
  actual?: string;
}

export interface PendingEvent {
  type: 'pending';
  title: string;
  fullTitle: string;
  depth: number;
}

/** Console output of the tests (console.log and friends inside the extension host). */
export interface LogEvent {
  type: 'log';
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  text: string;
}

/** The harness inside the host failed outside any test (a suite file that throws on load, say). */
export interface ErrorEvent {
  type: 'error';
  message: string;
  stack?: string;
}

export interface EndEvent {
  type: 'end';
  passed: number;
  failed: number;
  pending: number;
  durationMs: number;
}

export type HostEvent =
  | StartEvent
  | SuiteEvent
  | TestStartEvent
  | PassEvent
  | FailEvent
  | PendingEvent
  | LogEvent
  | ErrorEvent
  | EndEvent;

/** Parses one line of the results file; undefined for a line that is not a known event. */
export function parseEvent(line: string): HostEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as { type?: unknown };
    const known = ['start', 'suite', 'test-start', 'pass', 'fail', 'pending', 'log', 'error', 'end'];
    return typeof value.type === 'string' && known.includes(value.type) ? (value as HostEvent) : undefined;
  } catch {
    return undefined;
  }
}
