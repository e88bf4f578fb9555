// The extension tests module (`extensionTestsPath`): VS Code loads it inside the real extension host
// and calls `run()`. It runs the compiled mocha suites and appends each result to the results file
// the launcher reads (see ../protocol.ts). Built by scripts/vscode/build-tests.js to out/test/index.js.
//
// Both mocha styles work in every suite file: `suite`/`test`/`suiteSetup` (tdd) and
// `describe`/`it`/`before` (bdd); use one per file.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';
import * as vscode from 'vscode';
import { HOST_CONFIG_ENV, HostEvent, HostRunConfig } from '../protocol';
import { mapStack } from './stacks';

const {
  EVENT_RUN_BEGIN,
  EVENT_RUN_END,
  EVENT_SUITE_BEGIN,
  EVENT_TEST_BEGIN,
  EVENT_TEST_PASS,
  EVENT_TEST_FAIL,
  EVENT_TEST_PENDING,
} = Mocha.Runner.constants;

type Emit = (event: HostEvent) => void;

function depthOf(runnable: Mocha.Runnable | Mocha.Suite): number {
  let depth = 0;
  for (let parent = runnable.parent; parent && !parent.root; parent = parent.parent) depth++;
  return depth;
}

function describeValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** A mocha reporter that sends every event through `emit` (its reporterOptions). */
class ResultsReporter {
  constructor(runner: Mocha.Runner, options: { reporterOptions: { emit: Emit; run: string } }) {
    const { emit, run } = options.reporterOptions;
    const started = Date.now();
    let passed = 0;
    let failed = 0;
    let pending = 0;
    runner.once(EVENT_RUN_BEGIN, () => {
      emit({
        type: 'start',
        run,
        total: runner.total,
        vscodeVersion: vscode.version,
        appName: vscode.env.appName,
        uiKind: vscode.env.uiKind === vscode.UIKind.Web ? 'web' : 'desktop',
        node: process.version,
        workspaceTrusted: vscode.workspace.isTrusted,
        workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath),
      });
    });
    runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      if (!suite.root) emit({ type: 'suite', title: suite.title, depth: depthOf(suite) + 1 });
    });
    runner.on(EVENT_TEST_BEGIN, (test: Mocha.Test) => emit({ type: 'test-start', fullTitle: test.fullTitle() }));
    runner.on(EVENT_TEST_PASS, (test: Mocha.Test) => {
      passed++;
      emit({
        type: 'pass',
        title: test.title,
        fullTitle: test.fullTitle(),
        file: test.file,
        durationMs: test.duration ?? 0,
        depth: depthOf(test),
      });
    });
    runner.on(EVENT_TEST_FAIL, (test: Mocha.Runnable, error: Error & { expected?: unknown; actual?: unknown; showDiff?: boolean }) => {
      failed++;
      emit({
        type: 'fail',
        title: test.title,
        fullTitle: test.fullTitle(),
        file: test.file,
        durationMs: test.duration,
        depth: depthOf(test),
        message: error?.message ?? String(error),
        stack: mapStack(error?.stack),
        expected: error?.showDiff === false ? undefined : describeValue(error?.expected),
        actual: error?.showDiff === false ? undefined : describeValue(error?.actual),
      });
    });
    runner.on(EVENT_TEST_PENDING, (test: Mocha.Test) => {
      pending++;
      emit({ type: 'pending', title: test.title, fullTitle: test.fullTitle(), depth: depthOf(test) });
    });
    runner.once(EVENT_RUN_END, () => {
      emit({ type: 'end', passed, failed, pending, durationMs: Date.now() - started });
    });
  }
}

/** Writes events to the results file (synchronously, so nothing is lost if the host dies). */
function makeEmitter(config: HostRunConfig, originalLog: (...args: unknown[]) => void): Emit {
  if (config.resultsFile) {
    const file = config.resultsFile;
    return (event) => fs.appendFileSync(file, `${JSON.stringify(event)}\n`);
  }
  // No launcher listening (run from a launch configuration): print a readable report instead.
  return (event) => {
    const indent = '  '.repeat('depth' in event ? event.depth : 0);
    switch (event.type) {
      case 'suite':
        originalLog(`${indent}${event.title}`);
        break;
      case 'pass':
        originalLog(`${indent}  ✔ ${event.title} (${event.durationMs}ms)`);
        break;
      case 'fail':
        originalLog(`${indent}  ✘ ${event.title}\n${event.stack ?? event.message}`);
        break;
      case 'pending':
        originalLog(`${indent}  - ${event.title}`);
        break;
      case 'error':
        originalLog(`error: ${event.stack ?? event.message}`);
        break;
      case 'end':
        originalLog(`${event.passed} passed, ${event.failed} failed`);
        break;
      default:
        break;
    }
  };
}

/**
 * Mirrors console output of the tests into the results, keeping it on the console too. The
 * extension host makes console's methods non-writable accessors, so the whole `console` global is
 * swapped for an object that inherits from it for the time of the run.
 */
function captureConsole(emit: Emit): () => void {
  const original = globalThis.console;
  const levels = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const proxy = Object.create(original) as Console;
  for (const level of levels) {
    const method = original[level];
    Object.defineProperty(proxy, level, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        method.apply(original, args);
        const text = args.map((arg) => (typeof arg === 'string' ? arg : describeValue(arg) ?? String(arg))).join(' ');
        try {
          emit({ type: 'log', level, text });
        } catch {
          // never let reporting break a test
        }
      },
    });
  }
  try {
    globalThis.console = proxy;
  } catch {
    return () => undefined;
  }
  return () => {
    globalThis.console = original;
  };
}

/** Every compiled suite next to this module, for runs started without a launcher. */
function defaultConfig(): HostRunConfig {
  const root = path.join(__dirname, 'integration');
  const files: string[] = [];
  const visit = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith('.test.js')) files.push(full);
    }
  };
  visit(root);
  return { run: 'all', files: files.sort(), testTimeoutMs: 60_000 };
}

function configFromEnv(): HostRunConfig {
  const file = process.env[HOST_CONFIG_ENV];
  return file ? (JSON.parse(fs.readFileSync(file, 'utf8')) as HostRunConfig) : defaultConfig();
}

/** Runs the suites named in `config`; rejects when a test failed, so VS Code reports a failure too. */
export async function runWith(config: HostRunConfig): Promise<void> {
  const originalLog = console.log.bind(console);
  const emit = makeEmitter(config, originalLog);
  const restoreConsole = config.resultsFile ? captureConsole(emit) : () => undefined;
  let failures = 0;
  try {
    const mocha = new Mocha({
      color: false,
      timeout: config.testTimeoutMs,
      grep: config.grep ? new RegExp(config.grep) : undefined,
      reporter: ResultsReporter as unknown as Mocha.ReporterConstructor,
      reporterOptions: { emit, run: config.run },
    });
    // Bind both interfaces, so a suite file can use suite/test or describe/it.
    mocha.ui('tdd');
    mocha.ui('bdd');
    for (const file of config.files) mocha.addFile(file);
    // mocha.run loads the files with require (not import), so `vscode` resolves as for extensions.
    failures = await new Promise<number>((resolve) => mocha.run(resolve));
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    emit({ type: 'error', message: err.message, stack: mapStack(err.stack) });
    emit({ type: 'end', passed: 0, failed: 1, pending: 0, durationMs: 0 });
    failures = 1;
  } finally {
    restoreConsole();
  }
  if (failures > 0) throw new Error(`${failures} test(s) failed`);
}

/** The entry point VS Code calls. */
export function run(): Promise<void> {
  return runWith(configFromEnv());
}
