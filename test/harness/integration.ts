// `npm run test:integration`: runs the mocha suites under test/integration/ inside a real VS Code
// extension host, one fresh VS Code per run of test/integration/runs.ts, and reports every test.
//
//   node --import tsx test/harness/integration.ts [options] [test/integration/x.test.ts ...]
//
//   --run NAME          only this run (repeatable)
//   --grep PATTERN      only tests whose full title matches
//   --launcher NAME     code-server or electron (default: $SWARM_TEST_LAUNCHER, else chosen)
//   --timeout MS        time for each run (default $SWARM_TEST_TIMEOUT_MS or 300000)
//   --suite FILE        an ad-hoc run of these suite files instead of runs.ts (repeatable), with
//   --fixture NAME      its fixture (default basic), --untrusted and --git
//   --list              print the planned runs and exit
//
// Exit code 0 only when every test passed, at least one ran, every run ended in time and nothing
// it started is still alive afterwards.
import * as fs from 'fs';
import * as path from 'path';
import { buildTests, findSuites, outputFor } from '../../scripts/vscode/build-tests';
import { HostRunConfig } from './protocol';
import { chooseLauncher, createLauncher, HostLauncher } from './launcher/hosts';
import { ProcessTracker } from './launcher/processes';
import { exitCodeFor, formatFailures, newTally, ResultsReader, RunTally, suiteSource, summaryLine } from './launcher/report';
import { IntegrationRun, PlannedRun, planRuns } from './launcher/runs';
import { installSignalHandlers, onShutdown } from './launcher/shutdown';
import { keepScratch, makeScratch, prepareWorkspace, removeQuietly, RESULTS_DIR, ROOT } from './launcher/workspace';

const SUITE_ROOT = path.join(ROOT, 'test', 'integration');
const DEFAULT_RUN_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_TEST_TIMEOUT_MS = 60_000;

const print = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => print(`[integration] ${line}`);

interface Options {
  runs: string[];
  grep?: string;
  launcher?: string;
  timeoutMs?: number;
  suites: string[];
  fixture: string;
  untrusted: boolean;
  git: boolean;
  files: string[];
  list: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { runs: [], suites: [], fixture: 'basic', untrusted: false, git: false, files: [], list: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case '--run':
        options.runs.push(value());
        break;
      case '--grep':
        options.grep = value();
        break;
      case '--launcher':
        options.launcher = value();
        break;
      case '--timeout':
        options.timeoutMs = Number(value());
        break;
      case '--suite':
        options.suites.push(path.resolve(value()));
        break;
      case '--fixture':
        options.fixture = value();
        break;
      case '--untrusted':
        options.untrusted = true;
        break;
      case '--git':
        options.git = true;
        break;
      case '--list':
        options.list = true;
        break;
      default:
        if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
        options.files.push(path.resolve(arg));
    }
  }
  return options;
}

async function loadRuns(): Promise<IntegrationRun[]> {
  const module = (await import(path.join(SUITE_ROOT, 'runs.ts'))) as { runs?: IntegrationRun[]; default?: { runs?: IntegrationRun[] } };
  const runs = module.runs ?? module.default?.runs;
  if (!runs) throw new Error('test/integration/runs.ts exports no `runs`');
  return runs;
}

async function plan(options: Options): Promise<PlannedRun[]> {
  if (options.suites.length > 0) {
    return [{ name: 'adhoc', fixture: options.fixture, trusted: !options.untrusted, git: options.git, files: options.suites }];
  }
  let planned = planRuns(await loadRuns(), findSuites(SUITE_ROOT), SUITE_ROOT);
  if (options.runs.length > 0) {
    const unknown = options.runs.filter((name) => !planned.some((run) => run.name === name));
    if (unknown.length > 0) throw new Error(`no integration run named ${unknown.join(', ')}`);
    planned = planned.filter((run) => options.runs.includes(run.name));
  }
  if (options.files.length > 0) {
    for (const file of options.files) if (!fs.existsSync(file)) throw new Error(`no such suite file: ${file}`);
    planned = planned.map((run) => ({ ...run, files: run.files.filter((file) => options.files.includes(file)) }));
  }
  return planned.filter((run) => run.files.length > 0);
}

function runTimeout(run: PlannedRun, options: Options): number {
  return options.timeoutMs ?? run.timeoutMs ?? (Number(process.env.SWARM_TEST_TIMEOUT_MS) || DEFAULT_RUN_TIMEOUT_MS);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Copies a failed run's logs to test-results/integration/<run>/ and says where they are. */
function keepLogs(run: string, files: string[]): void {
  const target = path.join(RESULTS_DIR, 'integration', run);
  fs.mkdirSync(target, { recursive: true });
  for (const file of files) if (fs.existsSync(file)) fs.copyFileSync(file, path.join(target, path.basename(file)));
  note(`logs of run ${run}: ${path.relative(ROOT, target)}/`);
}

function tail(file: string, lines: number): string[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
}

async function executeRun(run: PlannedRun, launcher: HostLauncher, host: string, options: Options): Promise<RunTally> {
  const trusted = run.trusted !== false;
  const timeoutMs = runTimeout(run, options);
  const tally = newTally(run.name);
  note(
    `run ${run.name}: ${run.files.length} suite file(s), fixture ${run.fixture}, ${trusted ? 'trusted' : 'UNTRUSTED'} workspace, ` +
      `timeout ${Math.round(timeoutMs / 1000)}s`,
  );
  const started = Date.now();
  const scratch = makeScratch(run.name);
  const tracker = new ProcessTracker();
  let stopHost: (() => Promise<void>) | undefined;
  let logFiles: string[] = [];
  let ended = '';
  const cleanup = async () => {
    await stopHost?.().catch(() => undefined);
    return tracker.killAll();
  };
  const unregister = onShutdown(async () => {
    await cleanup();
  });
  try {
    const workspace = prepareWorkspace(scratch, { fixture: run.fixture, git: run.git });
    const resultsFile = path.join(scratch, 'results.jsonl');
    fs.writeFileSync(resultsFile, '');
    const config: HostRunConfig = {
      run: run.name,
      files: run.files.map(outputFor),
      resultsFile,
      grep: options.grep,
      testTimeoutMs: Number(process.env.SWARM_TEST_MOCHA_TIMEOUT_MS) || DEFAULT_TEST_TIMEOUT_MS,
    };
    const testsEntry = path.join(scratch, 'tests-entry.js');
    fs.writeFileSync(
      testsEntry,
      `// Generated by test/harness/integration.ts for run ${run.name}.\n` +
        `const host = require(${JSON.stringify(host)});\n` +
        `const config = ${JSON.stringify(config, null, 2)};\n` +
        `exports.run = () => host.runWith(config);\n`,
    );
    const reader = new ResultsReader(resultsFile, tally, print);
    const deadline = started + timeoutMs;
    const started_ = await Promise.race([
      launcher.start({ workspace, scratch, trusted, settings: run.settings, testsEntry, tracker, log: (line) => note(line) }),
      sleep(timeoutMs).then(() => undefined),
    ]);
    if (!started_) throw new Error(`VS Code did not start within ${Math.round(timeoutMs / 1000)}s`);
    stopHost = started_.stop;
    logFiles = [resultsFile, ...started_.logFiles];
    let diedWith: string | undefined;
    void started_.died.then((reason) => (diedWith = reason));
    while (!tally.ended) {
      reader.poll();
      if (tally.ended) break;
      if (diedWith) {
        await sleep(500); // let the last lines land
        reader.poll();
        if (!tally.ended) tally.errors.push(`${diedWith} before the tests finished`);
        break;
      }
      if (Date.now() > deadline) {
        const where = tally.running ? `; test still running: ${tally.running}` : tally.start ? '' : '; no test had started (the extension host never ran the tests)';
        tally.errors.push(`run ${run.name} timed out after ${Math.round(timeoutMs / 1000)}s${where}`);
        break;
      }
      await sleep(200);
    }
    if (!tally.start && !tally.ended) {
      for (const file of logFiles.slice(1)) {
        const lines = tail(file, 25);
        if (lines.length) print(`  --- last lines of ${path.basename(file)} ---\n${lines.map((l) => `  ${l}`).join('\n')}`);
      }
    }
  } catch (error) {
    tally.errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  } finally {
    const leftovers = await cleanup();
    unregister();
    if (leftovers.length > 0) tally.errors.push(`processes still alive after the run: ${leftovers.join(', ')}`);
    else tracker.dispose();
    ended = leftovers.length === 0 ? 'all its processes ended' : `${leftovers.length} process(es) SURVIVED`;
    if (!tally.ended && tally.errors.length === 0) tally.errors.push(`run ${run.name} did not finish`);
    // A run that broke outside any test (load error, crash, timeout, leftovers) counts as a failure.
    tally.failed += tally.errors.length;
    const failed = tally.failed > 0 || !tally.ended;
    if (failed) {
      const logs = fs.readdirSync(scratch).filter((name) => name.endsWith('.log') || name.endsWith('.jsonl'));
      keepLogs(run.name, [...new Set([...logFiles, ...logs.map((name) => path.join(scratch, name))])]);
    }
    if (keepScratch()) note(`kept ${scratch}`);
    else removeQuietly(scratch);
  }
  note(
    `run ${run.name}: ${tally.passed} passing, ${tally.failed} failing${tally.pending ? `, ${tally.pending} pending` : ''} ` +
      `in ${((Date.now() - started) / 1000).toFixed(1)}s; ${ended}`,
  );
  return tally;
}

async function main(): Promise<number> {
  installSignalHandlers(note);
  const options = parseArgs(process.argv.slice(2));
  const runs = await plan(options);
  if (options.list) {
    for (const run of runs) print(`${run.name}: ${run.files.map((file) => path.relative(ROOT, file)).join(' ')}`);
    return 0;
  }
  if (runs.length === 0) {
    note('no suite files selected');
    print(summaryLine(0, 0, 0));
    return 1;
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))) throw new Error('dist/extension.js is missing: run `npm run build` first');
  const build = await buildTests([...new Set(runs.flatMap((run) => run.files))]);
  const launcher = createLauncher(chooseLauncher(options.launcher));
  note(`launcher: ${await launcher.prepare(note)}`);
  const tallies: RunTally[] = [];
  for (const run of runs) tallies.push(await executeRun(run, launcher, build.host, options));
  for (const line of formatFailures(tallies, (file) => suiteSource(file, ROOT))) print(line);
  const total = (key: 'passed' | 'failed' | 'pending') => tallies.reduce((sum, tally) => sum + tally[key], 0);
  if (total('passed') + total('failed') === 0) note('no test ran');
  print('');
  print(summaryLine(total('passed'), total('failed'), total('pending')));
  return exitCodeFor(tallies);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    note(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
