// Reads the results file the extension host appends to, and prints what it says: one line a test
// while the run goes on, the failures with their stacks at the end, and the closing summary line.
import * as fs from 'fs';
import { FailEvent, HostEvent, parseEvent, StartEvent } from '../protocol';

export interface RunTally {
  run: string;
  passed: number;
  failed: number;
  pending: number;
  failures: (FailEvent & { run: string })[];
  /** Problems outside any test: a suite that failed to load, a timeout, a crash, leftovers. */
  errors: string[];
  start?: StartEvent;
  ended: boolean;
  /** Full title of the test that started last and has not finished. */
  running?: string;
}

export function newTally(run: string): RunTally {
  return { run, passed: 0, failed: 0, pending: 0, failures: [], errors: [], ended: false };
}

type Print = (line: string) => void;

/** Applies one event to the tally and prints its line. */
export function applyEvent(tally: RunTally, event: HostEvent, print: Print): void {
  const indent = (depth: number) => '  '.repeat(depth + 1);
  switch (event.type) {
    case 'start':
      tally.start = event;
      print(
        `  ${event.appName} ${event.vscodeVersion} (${event.uiKind}), Node ${event.node}, ` +
          `workspace ${event.workspaceFolders.join(', ') || '(none)'} ${event.workspaceTrusted ? 'trusted' : 'NOT trusted'}, ${event.total} test(s)`,
      );
      break;
    case 'suite':
      print(`${indent(event.depth)}${event.title}`);
      break;
    case 'test-start':
      tally.running = event.fullTitle;
      break;
    case 'pass':
      tally.passed++;
      tally.running = undefined;
      print(`${indent(event.depth + 1)}✔ ${event.title} (${event.durationMs}ms)`);
      break;
    case 'fail':
      tally.failed++;
      tally.running = undefined;
      tally.failures.push({ ...event, run: tally.run });
      print(`${indent(event.depth + 1)}✘ ${event.title}${event.durationMs !== undefined ? ` (${event.durationMs}ms)` : ''}`);
      break;
    case 'pending':
      tally.pending++;
      print(`${indent(event.depth + 1)}- ${event.title} (skipped)`);
      break;
    case 'log':
      for (const line of event.text.split('\n')) print(`        │ ${line}`);
      break;
    case 'error':
      tally.errors.push(event.stack ?? event.message);
      print(`  ! ${event.message}`);
      break;
    case 'end':
      tally.ended = true;
      break;
  }
}

/** Follows a results file as the extension host appends to it. */
export class ResultsReader {
  private offset = 0;
  private partial = '';

  constructor(
    private readonly file: string,
    private readonly tally: RunTally,
    private readonly print: Print,
  ) {}

  /** Reads whatever was appended since the last call. */
  poll(): void {
    let data: Buffer;
    try {
      const fd = fs.openSync(this.file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size <= this.offset) return;
        data = Buffer.alloc(size - this.offset);
        fs.readSync(fd, data, 0, data.length, this.offset);
        this.offset = size;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return;
    }
    const text = this.partial + data.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const event = parseEvent(line);
      if (event) applyEvent(this.tally, event, this.print);
    }
  }
}

/** The failures block printed after all runs. */
export function formatFailures(tallies: RunTally[], displayPath: (file: string) => string = (file) => file): string[] {
  const lines: string[] = [];
  const failures = tallies.flatMap((tally) => tally.failures);
  const errors = tallies.flatMap((tally) => tally.errors.map((error) => ({ run: tally.run, error })));
  if (failures.length === 0 && errors.length === 0) return lines;
  lines.push('', 'Failures:');
  failures.forEach((failure, index) => {
    lines.push('', `  ${index + 1}) [${failure.run}] ${failure.fullTitle}`);
    if (failure.file) lines.push(`     in ${displayPath(failure.file)}`);
    const body = failure.stack && failure.stack.includes(failure.message) ? failure.stack : `${failure.message}\n${failure.stack ?? ''}`;
    for (const line of body.trimEnd().split('\n')) lines.push(`     ${line}`);
    if (failure.expected !== undefined || failure.actual !== undefined) {
      lines.push('     expected:', ...String(failure.expected).split('\n').map((l) => `       ${l}`));
      lines.push('     actual:', ...String(failure.actual).split('\n').map((l) => `       ${l}`));
    }
  });
  errors.forEach(({ run, error }) => {
    lines.push('', `  [${run}] ${error.split('\n')[0]}`);
    for (const line of error.split('\n').slice(1)) lines.push(`     ${line}`);
  });
  return lines;
}

/** The closing line, `N passed, N failed` (`, N skipped` when some were). */
export function summaryLine(passed: number, failed: number, skipped: number): string {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

/**
 * The exit code of the whole run: 0 only when every run ended, nothing failed, nothing was left
 * behind, and at least one test ran.
 */
export function exitCodeFor(tallies: RunTally[]): number {
  const passed = tallies.reduce((sum, tally) => sum + tally.passed, 0);
  const failed = tallies.reduce((sum, tally) => sum + tally.failed, 0);
  const broken = tallies.some((tally) => !tally.ended || tally.errors.length > 0);
  return failed > 0 || broken || passed === 0 ? 1 : 0;
}

/** The TypeScript source of a compiled suite (out/test/x.test.js -> test/x.test.ts), relative to `root`. */
export function suiteSource(file: string, root: string): string {
  const prefix = `${root}/out/test/`;
  const source = file.startsWith(prefix) ? `test/${file.slice(prefix.length).replace(/\.js$/, '.ts')}` : file;
  return source.startsWith(`${root}/`) ? source.slice(root.length + 1) : source;
}
