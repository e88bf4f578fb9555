// `swarm run`: runs a pool of agents on the board in this terminal, with a live progress line on a
// TTY (one plain line per finished task otherwise) and a summary at the end.
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { listAllTasks, type Board } from '../../core/board';
import { FileBoard } from '../../core/board/fileBoard';
import {
  formatConfigProblem,
  loadSwarmConfig,
  resolveEffectiveConfig,
  type ConfigLayerName,
  type SwarmConfig,
  type SwarmConfigInput,
  type SwarmConfigLoad,
} from '../../core/config';
import { detectPresets, ExecutorError, type ExecutorConfig } from '../../core/executors';
import { OK_EXIT_CODE_PRESET_NAMES } from '../../core/executors/exitCodes';
import { preflightExecutor } from '../../core/executors/preflight';
import { recordPoolResources, resourceStoreOf } from '../../core/metrics';
import { buildPool, watchRunnerServesFor, ExecutorChoiceError, resolveExecutorChoice, type BoardAccess, type PoolEvent, type PoolRunChoice, type PoolStats } from '../../core/pool';
import { parseAgentsPerProcess } from '../../core/pool/scaling';
import { hostRecordId } from '../../core/pool/status-file';
import { describeSandbox, SANDBOX_MODES, type SandboxMode } from '../../core/sandbox';
import { EXIT_FAILURE, ExitError, UsageError, invalidConfigFile } from '../errors';
import { escapeTerminal, formatDuration, printJson } from '../format';
import { parseDaysAsMs, parseFileList, parseInteger } from '../parse';

interface RunOptions {
  agents?: number;
  minAgents?: number;
  idleTimeoutMs?: number;
  executor?: string;
  exec?: string;
  okExitCodes?: string;
  batch?: string;
  verify?: string;
  leaseMs?: number;
  untilEmpty?: boolean;
  isolation?: string | false;
  mode?: 'auto' | 'pool' | 'sequential';
  graceMs: number;
  agentMemoryMb?: number;
  agentsPerProcess?: number | 'auto';
  sandbox?: SandboxMode;
  /** false with --no-network. */
  network?: boolean;
  json?: boolean;
  verbose?: boolean;
  baselineMs?: number;
  /** Shared board: the repository cache folder and this runner's labels. */
  repos?: string;
  labels?: string[];
  /** Shared board: how long this runner keeps the bundles of ended tasks (--keep-results DAYS). */
  keepResults?: number;
}

export interface RunSummary {
  done: number;
  dead: number;
  failedAttempts: number;
  wallMs: number;
  busyMs: number;
  /** Runs of the executor; fewer than the attempts when batches ran several tasks in one command. */
  commands: number;
  /** Busy time over wall time: how many agents were working on average. Not a speedup. */
  parallelism: number;
  /** With --baseline-ms: the same work done another way (one agent, the plain tool), and baseline ÷ wall. */
  baselineMs?: number;
  speedup?: number;
  mode: string;
  /** Set when a signal (Ctrl-C) stopped the run: which one, and what is left on the board. */
  stoppedBy?: StopSignal;
  left?: LeftOnBoard;
}

type StopSignal = 'SIGINT' | 'SIGTERM';

/** What a stopped run leaves: tasks still to do, tasks other hosts run, and this run's unfinished ones (pending again). */
interface LeftOnBoard {
  pending: number;
  running: number;
  handedBack: number;
}

/** The shell's convention: 128 + the signal's number, so scripts can tell a stop from a failure. */
const EXIT_ON_SIGNAL: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

/** The board a pool works on: the board, its workspace, and how agent processes open it. */
export interface WorkingBoard {
  board: Board;
  workspaceRoot: string;
  access: BoardAccess;
}

export function registerRunCommands(program: Command, openBoard: () => Promise<WorkingBoard>): void {
  program
    .command('run')
    .description('run a pool of agents on the board (Ctrl-C stops it gracefully)')
    .option('--agents <n>', 'most agents at once (default: min(4, cores))', parseInteger('--agents', 1, 64))
    .option('--agents-per-process <n>', 'most agents one agent process hosts: a number, or auto (the default: up to 4 per process, more where agents outnumber 4 per core)', parseAgentsPerProcessOption)
    .option('--min-agents <n>', 'agents kept running while idle (default 0)', parseInteger('--min-agents', 0, 64))
    .option('--idle-timeout-ms <n>', 'an idle agent above --min-agents exits after this long (default 60000)', parseInteger('--idle-timeout-ms', 100, 86_400_000))
    .option('--executor <name>', 'agent CLI name (claude, codex, aider, gemini, ...), "command:<template>", or executor JSON')
    .option('--exec <cmd>', 'shell command template per task, e.g. "eslint --fix {files}"')
    .option('--batch <how>', 'with --exec: several tasks of a map in one command when the template depends on the task only through {files}: auto (default), off, or the most tasks per command')
    .option('--ok-exit-codes <codes>', `with --exec: exit codes that still produce a result, e.g. "1" or "1,2", or a preset (${OK_EXIT_CODE_PRESET_NAMES.join(', ')}); default: the preset of the tool --exec runs`)
    .option('--verify <cmd>', 'command that must pass after each task (tests, type check)')
    .option('--lease-ms <n>', 'task lease; agents renew it every third of it', parseInteger('--lease-ms', 1_000, 3_600_000))
    .option('--until-empty', 'stop when no task is pending, running or waiting')
    .option('--isolation <kind>', 'worktree (default in git), direct (the workspace itself, diffed), none (workspace, nothing collected)')
    .option('--no-isolation', 'work in the workspace itself (same as --isolation direct)')
    .addOption(new Option('--mode <mode>', 'pool: child-process agents; sequential: one task at a time in this process').choices(['auto', 'pool', 'sequential']).default('auto'))
    .option('--grace-ms <n>', 'on stop, how long running tasks may finish', parseInteger('--grace-ms', 0, 3_600_000), 30_000)
    .option('--agent-memory-mb <n>', 'stop an agent (and retry its task) above this resident memory', parseInteger('--agent-memory-mb', 16, 1_000_000))
    .addOption(new Option('--sandbox <mode>', 'auto: sandbox every command where bubblewrap works (default); required: refuse to run without it; off: no sandbox').choices([...SANDBOX_MODES]))
    .option('--no-network', 'sandboxed commands get no network')
    .option('--baseline-ms <n>', 'how long the same work takes without the swarm (one agent, or the plain tool): the summary then says the real speedup', parseInteger('--baseline-ms', 1, 604_800_000))
    .option('--repos <dir>', 'shared board: a repository cache folder (one mirror per repository), so this runner also takes tasks of repositories it has no clone of')
    .option('--labels <a,b>', "shared board: this runner's labels; tasks that require others are handed back", parseFileList)
    .option('--keep-results <days>', 'shared board: days the bundles of ended tasks (results to review or follow up, a dead task\'s work) stay on the board before runners remove them (default 7)', parseDaysAsMs('--keep-results'))
    .option('--json', 'print the summary as JSON only')
    .option('--verbose', 'print pool log lines')
    .action(async (options: RunOptions, command: Command) => {
      // `swarm run --verbose` reaches the program's global --verbose (stack traces) first.
      options.verbose ||= command.parent?.opts<{ verbose?: boolean }>().verbose;
      const working = await openBoard();
      // A board it cannot write would fail every claim, forever.
      if (working.board instanceof FileBoard) await working.board.assertWritable();
      const summary = await runPool(working, options);
      if (options.json) printJson(summary);
      else console.log(formatSummary(summary));
      if (summary.stoppedBy !== undefined) throw new ExitError(EXIT_ON_SIGNAL[summary.stoppedBy]);
      if (summary.dead > 0) throw new ExitError(EXIT_FAILURE);
    });
}

/** `--agents-per-process`: a whole number from 1 to 64, or `auto`; anything else is a usage error (exit 2). */
function parseAgentsPerProcessOption(value: string): number | 'auto' {
  const parsed = parseAgentsPerProcess(value);
  if (parsed === undefined || (parsed !== 'auto' && parsed > 64)) throw new InvalidArgumentError(`--agents-per-process must be a whole number from 1 to 64 or "auto", got "${value}".`);
  return parsed;
}

/** The project configuration in force: swarm.config.json under the flags. An invalid file ends the run (exit 2). */
interface ProjectConfig {
  load: SwarmConfigLoad;
  config: SwarmConfig;
  origins: Record<string, ConfigLayerName>;
}

function projectConfig(workspaceRoot: string, options: RunOptions): ProjectConfig {
  // The CLI runs with the user's own authority, so the file counts as trusted (commands included).
  const load = loadSwarmConfig(workspaceRoot, { trusted: true });
  if (load.config === undefined) {
    throw invalidConfigFile(load.file, load.errors, 'nothing was run');
  }
  const effective = resolveEffectiveConfig({ file: load.config as SwarmConfigInput, flags: flagLayer(options) });
  if (effective.errors.length > 0) throw new UsageError(effective.errors.map(formatConfigProblem).join('; '));
  return { load, config: effective.config, origins: effective.origins };
}

/** The flags that have a swarm.config.json counterpart, as a configuration layer over the file. */
function flagLayer(options: RunOptions): SwarmConfigInput {
  const pool = {
    ...(options.agents !== undefined && { maxAgents: options.agents }),
    ...(options.agentsPerProcess !== undefined && { agentsPerProcess: options.agentsPerProcess }),
    ...(options.minAgents !== undefined && { minAgents: options.minAgents }),
    ...(options.idleTimeoutMs !== undefined && { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
    ...(options.agentMemoryMb !== undefined && { agentMemoryMB: options.agentMemoryMb }),
  };
  const sandbox = {
    ...(options.sandbox !== undefined && { mode: options.sandbox }),
    ...(options.network === false && { network: false }),
  };
  return {
    ...(Object.keys(pool).length > 0 && { pool }),
    ...(options.verify !== undefined && { verify: options.verify }),
    ...(Object.keys(sandbox).length > 0 && { sandbox }),
  };
}

/**
 * A template that cannot work is refused before any task is claimed (exit 2), with the fix:
 * otherwise every task would fail the same way, one after another.
 */
function refuseBrokenTemplate(executor: ExecutorConfig, workspaceRoot: string): void {
  const problems = preflightExecutor(executor, { cwd: workspaceRoot });
  if (problems.length > 0) throw new UsageError(`${problems.join('\n')}\nNothing was run; no task was claimed.`);
}

/** The executor from the flags, else the file; a bad one is a usage error (exit 2) that says what to fix. */
function executorConfig(options: RunOptions, project: ProjectConfig): ExecutorConfig {
  if (options.executor && options.exec) throw new UsageError('Use either --executor or --exec, not both.');
  if (options.okExitCodes !== undefined && !options.exec) throw new UsageError('--ok-exit-codes goes with --exec; for a configured executor set "okExitCodes" in swarm.config.json.');
  if (options.batch !== undefined && !options.exec) throw new UsageError('--batch goes with --exec; for a configured executor set "batch" in swarm.config.json.');
  try {
    // --verify beats every verify, an executor given as JSON included (docs/config-usage.md).
    const chosen = resolveExecutorChoice(project, { executor: executorFlag(options), requestKeepsOwnVerify: false });
    if (chosen !== undefined) return chosen;
    const found = detectPresets()[0];
    if (!found) throw new UsageError('No executor: pass --exec "CMD" or --executor NAME, or set "defaultExecutor" in swarm.config.json (no coding-agent CLI such as claude, codex or aider was found on PATH).');
    return resolveExecutorChoice(project, { executor: { type: 'agent', agent: found.preset.name } }) as ExecutorConfig;
  } catch (error) {
    if (error instanceof ExecutorChoiceError || error instanceof ExecutorError) throw new UsageError(error.message);
    throw error;
  }
}

/** The executor the flags ask for: --exec as a command executor, --executor as a name, shorthand or JSON. */
function executorFlag(options: RunOptions): unknown {
  if (!options.exec) return options.executor;
  return {
    type: 'command',
    command: options.exec,
    ...(options.okExitCodes !== undefined && { okExitCodes: okExitCodesFlag(options.okExitCodes) }),
    ...(options.batch !== undefined && { batch: batchFlag(options.batch) }),
  };
}

/** `--batch auto`, `--batch off`, or `--batch 8`; anything else reaches the executor check, which says what is allowed. */
function batchFlag(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === 'off' || trimmed === 'false') return false;
  return /^\d+$/.test(trimmed) ? Number.parseInt(trimmed, 10) : trimmed;
}

/** `--ok-exit-codes 1,2`, `--ok-exit-codes eslint`, or `--ok-exit-codes none` (= []). */
function okExitCodesFlag(text: string): number[] | string {
  const trimmed = text.trim();
  if (trimmed === 'none' || trimmed === '') return [];
  if (/^\d+(\s*,\s*\d+)*$/.test(trimmed)) return trimmed.split(',').map((code) => Number.parseInt(code, 10));
  return trimmed;
}

/** Which executor runs, for --verbose: the flag, or the file's entry. */
function executorOrigin(options: RunOptions, config: SwarmConfig): string {
  if (options.exec) return '--exec';
  if (options.executor) return config.executors?.[options.executor.trim()] !== undefined ? `--executor ${options.executor} (an entry of swarm.config.json)` : '--executor';
  const name = config.defaultExecutor ?? (Object.keys(config.executors ?? {}).length === 1 ? Object.keys(config.executors ?? {})[0] : undefined);
  return name === undefined ? 'the first coding-agent CLI found on PATH' : `swarm.config.json (${name})`;
}

function isolationChoice(options: RunOptions): PoolRunChoice['isolation'] {
  if (options.isolation === false) return 'direct';
  if (options.isolation === undefined) return undefined;
  if (options.isolation === 'worktree' || options.isolation === 'direct' || options.isolation === 'none') return options.isolation;
  throw new InvalidArgumentError(`--isolation must be worktree, direct or none; got "${options.isolation}".`);
}

function describeConfig(project: ProjectConfig, options: RunOptions, note: (line: string) => void): void {
  const { load, config, origins } = project;
  note(load.source === 'file' ? `Config: ${load.file}` : `Config: none (no ${load.file}); flags and defaults only`);
  note(`Executor: ${executorOrigin(options, config)}`);
  const settings = Object.entries(origins)
    .filter(([key]) => !key.startsWith('executors') && key !== 'defaultExecutor')
    .map(([key, layer]) => `${key} (${layer === 'file' ? 'file' : 'flag'})`);
  if (settings.length > 0) note(`Settings: ${settings.join(', ')}`);
}

async function runPool(working: WorkingBoard, options: RunOptions): Promise<RunSummary> {
  const { board, workspaceRoot } = working;
  const project = projectConfig(workspaceRoot, options);
  const executor = executorConfig(options, project);
  const live = !options.json && process.stdout.isTTY === true;
  // Only the live line shows it: piped output and --json do not read the board once a second.
  const pending = live ? pendingCount(board) : { value: 0, dispose: () => undefined };
  const progress = new ProgressPrinter(live, options.json === true, () => pending.value);
  // Said even with --json (on stderr then): it changes what the results mean.
  if (board instanceof FileBoard && (options.repos !== undefined || options.labels !== undefined || options.keepResults !== undefined)) throw new UsageError('--repos, --labels and --keep-results are for a shared (redis://) board, whose tasks come from other machines.');
  if (!(board instanceof FileBoard)) (options.json ? console.error : (line: string) => progress.note(line))(REMOTE_SNAPSHOT_NOTE);
  if (options.verbose) describeConfig(project, options, (line) => progress.note(line));
  const log = options.verbose ? (line: string): void => progress.note(line) : undefined;
  const run: PoolRunChoice = {
    isolation: isolationChoice(options),
    mode: options.mode,
    untilEmpty: options.untilEmpty,
    runner: { ...(options.repos !== undefined && { reposDir: path.resolve(options.repos) }), ...(options.labels !== undefined && { labels: options.labels }), ...(options.keepResults !== undefined && { transportRetentionMs: options.keepResults }) },
  };
  // On a shared board the board routes: this runner is never handed a task its labels or
  // repositories cannot serve (no claim churn; docs/runners.md).
  // Kept current while it runs (a remote added to the clone later), one stat every few seconds.
  const servesWatch = board instanceof FileBoard ? undefined : await watchRunnerServesFor({ workspaceRoot }, run);
  if (servesWatch) run.serves = servesWatch.serves;
  const pool = buildPool(project.config, executor, { board, boardAccess: working.access, workspaceRoot, log }, run);
  servesWatch?.start(() => pool.servesChanged());
  // Resource peaks for `swarm report`, as the extension's dashboard records them (in a file board's
  // folder, or on the Redis server marked with this host's id).
  const onResourceError = (error: unknown): void => log?.(`Recording resource figures failed: ${error instanceof Error ? error.message : String(error)}`);
  const resourceStore = resourceStoreOf(board);
  const resources = resourceStore
    ? recordPoolResources(pool, resourceStore, { onError: onResourceError, ...(board instanceof FileBoard ? {} : { host: hostRecordId(board) }) })
    : { dispose: () => Promise.resolve() };
  const touched = new Set<string>();
  let failedAttempts = 0;
  pool.onEvent((event) => {
    if (event.type === 'task-started') touched.add(event.taskId);
    if (event.type === 'task-failed') failedAttempts++;
    progress.onEvent(event);
  });
  const startedAt = Date.now();
  let stoppedBy: StopSignal | undefined;
  const stopOnSignal = (signal: StopSignal): void => {
    if (stoppedBy !== undefined) {
      progress.note('Stopping now: running tasks are handed back to the board and their processes ended.');
      void pool.stop({ graceMs: 0 });
      return;
    }
    stoppedBy = signal;
    progress.note(`Stopping: no new tasks are started; running tasks get ${formatDuration(options.graceMs)} to finish (Ctrl-C again to stop now).`);
    void pool.stop({ graceMs: options.graceMs });
  };
  const onSigint = (): void => stopOnSignal('SIGINT');
  const onSigterm = (): void => stopOnSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  try {
    // The template check runs while the agent processes boot; no agent claims before it passed.
    await pool.start({ checks: () => refuseBrokenTemplate(executor, workspaceRoot) }).catch((error: unknown) => {
      if (error instanceof UsageError) throw error;
      throw new ExitError(EXIT_FAILURE, `The pool could not start: ${error instanceof Error ? error.message : String(error)}`);
    });
    await pool.whenDone();
  } finally {
    servesWatch?.stop();
    const lastResources = resources.dispose();
    // The last window is written unless the board is gone (its write would only wait for a timeout).
    if (pool.boardFailure === undefined) await lastResources;
    pending.dispose();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    progress.finish();
  }
  // The reason was printed as the pool's warning when it happened: exit 1 without repeating it.
  if (pool.boardFailure !== undefined) throw new ExitError(EXIT_FAILURE);
  if (pool.verifyFailure !== undefined) throw new ExitError(EXIT_FAILURE, pool.verifyFailure);
  const stats = pool.stats();
  const wallMs = Date.now() - startedAt;
  // One listing of dead/ rather than a lookup per task (each lookup lists every state directory).
  const dead = (await listAllTasks(board, 'dead')).filter((task) => touched.has(task.id)).length;
  const stopped = stoppedBy === undefined ? {} : { stoppedBy, left: await leftOnBoard(board, touched) };
  return {
    ...stopped,
    done: stats.tasksDone,
    dead,
    failedAttempts,
    wallMs,
    busyMs: stats.busyMs,
    commands: stats.commands ?? stats.tasksDone + stats.tasksFailed,
    parallelism: wallMs > 0 ? Math.round((stats.busyMs / wallMs) * 100) / 100 : 0,
    ...(options.baselineMs !== undefined && { baselineMs: options.baselineMs, speedup: wallMs > 0 ? Math.round((options.baselineMs / wallMs) * 100) / 100 : 0 }),
    mode: stats.mode,
  };
}

/** One listing per state: what a stopped run leaves behind. */
async function leftOnBoard(board: Board, touched: Set<string>): Promise<LeftOnBoard> {
  const { counts } = await board.stats();
  const handedBack = (await listAllTasks(board, 'pending')).filter((task) => touched.has(task.id)).length;
  return { pending: counts.pending, running: counts.running, handedBack };
}

/**
 * Said at the start of a run on a shared board: where its tasks start (a task posted without a
 * snapshot, e.g. from VS Code, starts from this clone's state).
 */
export const REMOTE_SNAPSHOT_NOTE =
  'Note: on a shared board, tasks posted with a snapshot (swarm post) start from the poster\'s working state; tasks without one start from this runner\'s own clone as it is now.';

/** The board's pending count for the progress line, read once a second (the line is drawn more often). */
function pendingCount(board: Board): { value: number; dispose(): void } {
  const state = { value: 0, dispose: () => clearInterval(timer) };
  const read = (): void => void board.stats().then((stats) => (state.value = stats.counts.pending), () => undefined);
  const timer = setInterval(read, 1_000);
  timer.unref();
  read();
  return state;
}

export function formatSummary(summary: RunSummary): string {
  return (
    stoppedLine(summary) +
    `Done ${summary.done}, dead ${summary.dead}, failed attempts ${summary.failedAttempts}; ` +
    `wall ${formatDuration(summary.wallMs)}, task time ${formatDuration(summary.busyMs)} (${summary.mode} mode).\n` +
    `Parallelism ${summary.parallelism.toFixed(2)}: agents were busy ${summary.parallelism.toFixed(2)}× the wall time.` +
    speedupLine(summary) +
    batchLine(summary)
  );
}

/** First, when a signal stopped the run: what is left and how to go on. */
function stoppedLine(summary: RunSummary): string {
  if (summary.stoppedBy === undefined || summary.left === undefined) return '';
  const { pending, running, handedBack } = summary.left;
  const how = summary.stoppedBy === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM';
  const back = handedBack > 0 ? ` (${handedBack} of them handed back unfinished)` : '';
  const elsewhere = running > 0 ? `, ${running} still marked running (another host's, or freed when their lease runs out)` : ', none running';
  return `Stopped by ${how}. Left on the board: ${pending} pending${back}${elsewhere}. Run "swarm run" again to go on.\n`;
}

/** The real ratio, only where a baseline was measured. */
/** Only when batches ran: how many commands served how many task attempts. */
function batchLine(summary: RunSummary): string {
  const attempts = summary.done + summary.failedAttempts;
  if (summary.commands >= attempts) return '';
  return `\nCommands ${summary.commands} for ${attempts} task attempts: batches ran several tasks of a map in one command.`;
}

function speedupLine(summary: RunSummary): string {
  if (summary.baselineMs === undefined || summary.speedup === undefined) return '';
  const versus = `against the baseline of ${formatDuration(summary.baselineMs)}`;
  if (summary.speedup >= 1) return `\nSpeedup ${summary.speedup.toFixed(2)}× ${versus}.`;
  return `\nSlower than the baseline: ${(summary.wallMs / summary.baselineMs).toFixed(2)}× its ${formatDuration(summary.baselineMs)} (speedup ${summary.speedup.toFixed(2)}×).`;
}

/** The progress line (TTY) or one line per finished task (pipes, logs, CI). */
class ProgressPrinter {
  private readonly titles = new Map<string, string>();
  private lastStats: PoolStats | undefined;
  private done = 0;
  private failed = 0;
  private readonly running = new Set<string>();
  private agents = 0;
  private lineShown = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly live: boolean,
    private readonly quiet: boolean,
    private readonly waiting: () => number,
  ) {}

  onEvent(event: PoolEvent): void {
    switch (event.type) {
      case 'task-started':
        this.titles.set(event.taskId, event.title);
        this.running.add(event.taskId);
        this.redraw();
        return;
      case 'task-finished':
        this.done++;
        this.running.delete(event.taskId);
        this.note(`done   ${event.taskId}  ${this.title(event.taskId)}  (${formatDuration(event.durationMs)}, ${event.agentId})${event.warnings ? `  ${event.warnings.length} warning(s)` : ''}`);
        for (const warning of event.warnings ?? []) this.note(`  warning: ${warning}`);
        return;
      case 'sandbox':
        this.note(describeSandbox(event.status));
        return;
      case 'task-failed':
        if (endedLabel(event.kind) === 'failed') this.failed++;
        this.running.delete(event.taskId);
        this.note(`${endedLabel(event.kind)} ${event.taskId}  ${this.title(event.taskId)}: ${firstLine(event.message)}`);
        return;
      case 'agent-started':
        this.agents++;
        return;
      case 'agent-exited':
        this.agents = Math.max(0, this.agents - 1);
        return;
      case 'mode':
        if (event.mode === 'sequential') this.note(`Sequential mode: ${event.reason ?? 'agents could not be started'}. Tasks run one at a time in this process.`);
        return;
      case 'warning':
        this.note(`warning: ${event.message}`);
        return;
      case 'paused':
        this.note(`Paused until ${new Date(event.until).toLocaleTimeString()}: ${firstLine(event.reason)}`);
        return;
      case 'stats':
        this.lastStats = event.stats;
        this.redraw();
        return;
      default:
        return;
    }
  }

  /** Prints a line above the progress line (titles and errors in it come from others: escaped). */
  note(line: string): void {
    if (this.quiet) return;
    this.clear();
    process.stdout.write(`${escapeTerminal(line, { multiline: true })}\n`);
    this.redraw();
  }

  finish(): void {
    this.clear();
  }

  private title(id: string): string {
    return escapeTerminal(this.titles.get(id) ?? '');
  }

  private redraw(): void {
    if (!this.live || !this.lastStats) return;
    const stats = this.lastStats;
    const elapsed = formatDuration(Date.now() - this.startedAt);
    const paused = stats.pausedUntil ? ' · paused' : '';
    const agents = stats.mode === 'sequential' ? 'sequential' : `agents ${this.agents}/${stats.maxAgents}`;
    const text = `[${elapsed}] done ${this.done} · failed ${this.failed} · running ${this.running.size} · pending ${this.waiting()} · ${agents}${paused}`;
    const width = process.stdout.columns || 100; // 0 when the terminal does not say
    process.stdout.write(`\r${text.slice(0, width - 1)}\x1b[K`);
    this.lineShown = true;
  }

  private clear(): void {
    if (!this.live || !this.lineShown) return;
    process.stdout.write('\r\x1b[K');
    this.lineShown = false;
  }
}

/**
 * The word before an attempt that ended without a result: only a failure is "failed". A task
 * handed back (the run stopping) or whose lease went (another holder, a lost board) comes back.
 */
function endedLabel(kind: string): 'cancel' | 'back  ' | 'lost  ' | 'failed' {
  if (kind === 'cancelled') return 'cancel';
  if (kind === 'released') return 'back  ';
  if (kind === 'lost') return 'lost  ';
  return 'failed';
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
