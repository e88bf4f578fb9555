// The one place an AgentPool is assembled from configuration. `swarm run`, the extension (and any
// future remote runner) resolve their configuration layers (swarm.config.json under flags or
// settings) and hand the result here with the few things only a host knows: where its log goes,
// extra environment, a model bridge, and the run choices its own inputs make. Everything the
// configuration names reaches the pool the same way for every host, so they cannot drift.
import { findGitRepository } from '../board/gitExclude';
import { keepResultsMsFrom, namedExecutorsFrom, poolSettingsFrom, rateLimitsFrom, sandboxSettingsFrom, selectExecutor, worktreeSettingsFrom, type EffectiveConfig, type SwarmConfig } from '../config';
import { parseExecutorConfig, parseExecutorShorthand, type ExecutorConfig, type HostModelBroker } from '../executors';
import { createWorktreeIsolation } from '../worktree';
import { isSharedBoard } from '../remote/post';
import { createRunnerIsolation, type RunnerSettings } from '../remote/workspace';
import { asBoard } from './boardAccess';
import { AgentPool, type IsolationChoice, type PoolOptions } from './pool';
import type { PoolEvent } from './types';
import { SwarmUserError } from '../errors';
import type { Serves } from '../board/routing';
import { RunnerServesWatch, type RunnerServesOptions } from '../remote/serves';

/** What only the host knows: none of it comes from the configuration. */
export interface PoolHost {
  board: PoolOptions['board'];
  /** How agent processes open the board (required for a board that is not a folder). */
  boardAccess?: PoolOptions['boardAccess'];
  workspaceRoot: string;
  /** The pool's log lines; absent: quiet. */
  log?: (line: string) => void;
  /** Log lines of a worktree isolation built from the `worktrees` settings (default: `log`). */
  worktreeLog?: (line: string) => void;
  /** Extra environment for agents and their commands (e.g. an API key from the editor's secret store). */
  env?: NodeJS.ProcessEnv;
  /** The editor's language models, for model executors with `"provider": "host"`. */
  hostModels?: HostModelBroker;
  /** The status sink: subscribed before the pool starts, so it sees every event. */
  onEvent?: (event: PoolEvent) => void;
}

/** What this run asks for beyond the configuration (the CLI's flags; the extension's isolation setting). */
export interface PoolRunChoice {
  /** Absent: worktrees in a git repository, refused elsewhere (the pool's rule). */
  isolation?: 'worktree' | 'direct' | 'none';
  mode?: PoolOptions['mode'];
  untilEmpty?: boolean;
  /**
   * On a shared board this host is a runner: tasks that carry a snapshot start from it, imported
   * into this clone or the cache folder (docs/remote-git.md). Its cache folder and labels.
   */
  runner?: RunnerSettings;
  /** What this host's agents can serve on a shared board (watchRunnerServesFor); absent: everything. */
  serves?: Serves;
}

/** The pool's options: every piece the configuration names, plus the host's hooks and run choices. */
export function poolOptionsFromConfig(config: SwarmConfig, executor: ExecutorConfig, host: PoolHost, run: PoolRunChoice = {}): PoolOptions {
  return {
    board: host.board,
    ...(host.boardAccess !== undefined && { boardAccess: host.boardAccess }),
    workspaceRoot: host.workspaceRoot,
    executor,
    ...poolSettingsFrom(config),
    isolation: isolationFromConfig(config, host, run),
    sandbox: sandboxSettingsFrom(config),
    namedExecutors: namedExecutorsFrom(config),
    rateLimits: rateLimitsFrom(config),
    ...(run.mode !== undefined && { mode: run.mode }),
    ...(run.untilEmpty !== undefined && { untilEmpty: run.untilEmpty }),
    ...(run.serves !== undefined && { serves: run.serves }),
    ...(host.env !== undefined && { env: host.env }),
    ...(host.hostModels !== undefined && { hostModels: host.hostModels }),
    ...(host.log !== undefined && { log: host.log }),
  };
}

/** The pool a host runs (not started: the host starts it and decides how to report a failure). */
export function buildPool(config: SwarmConfig, executor: ExecutorConfig, host: PoolHost, run: PoolRunChoice = {}): AgentPool {
  const pool = new AgentPool(poolOptionsFromConfig(config, executor, host, run));
  if (host.onEvent) pool.onEvent(host.onEvent);
  return pool;
}

/**
 * What a runner on a shared board can serve, for the board to route on: the labels and repository
 * folder of its settings, the repositories of its clone, and tasks without a snapshot when it has a
 * local worktree isolation for them (the same decisions isolationFromConfig makes for its workspace);
 * kept current while the runner runs (remotes added to its clone later): see RunnerServesWatch.
 */
export function watchRunnerServesFor(host: Pick<PoolHost, 'workspaceRoot'>, run: PoolRunChoice): Promise<RunnerServesWatch> {
  return RunnerServesWatch.open(runnerServesOptions(host, run));
}

function runnerServesOptions(host: Pick<PoolHost, 'workspaceRoot'>, run: PoolRunChoice): RunnerServesOptions {
  const gitRoot = findGitRepository(host.workspaceRoot);
  const wantsWorktrees = run.isolation === 'worktree' || (run.isolation === undefined && gitRoot !== undefined);
  return { clone: gitRoot !== undefined ? host.workspaceRoot : undefined, reposDir: run.runner?.reposDir, labels: run.runner?.labels, unsourced: wantsWorktrees };
}

/**
 * The pool builds plain worktree isolation itself; the `worktrees` include list and setup command
 * need one built here. Only where the pool would use worktrees anyway: outside git, without an
 * explicit choice, the pool's own refusal stays in charge.
 */
function isolationFromConfig(config: SwarmConfig, host: PoolHost, run: PoolRunChoice): IsolationChoice | undefined {
  const choice = run.isolation;
  const worktreeSettings = worktreeSettingsFrom(config);
  const board = asBoard(host.board);
  const log = host.worktreeLog ?? host.log;
  const wantsWorktrees = choice === 'worktree' || (choice === undefined && findGitRepository(host.workspaceRoot) !== undefined);
  if (isSharedBoard(board)) {
    // Tasks without a snapshot (posted without one) still run here from this clone, as before.
    const local = wantsWorktrees ? createWorktreeIsolation({ workspaceRoot: host.workspaceRoot, ...worktreeSettings, log }) : undefined;
    return createRunnerIsolation({ board, workspaceRoot: host.workspaceRoot, local, worktree: (options) => createWorktreeIsolation({ ...worktreeSettings, ...options, log }), settings: runnerSettingsFrom(config, run), log });
  }
  if (Object.keys(worktreeSettings).length === 0) return choice;
  if (!wantsWorktrees) return choice;
  return createWorktreeIsolation({ workspaceRoot: host.workspaceRoot, ...worktreeSettings, log });
}

/** The runner's settings: the host's (swarm run's flags) over swarm.config.json's, so the editor's pool honours the file too. */
function runnerSettingsFrom(config: SwarmConfig, run: PoolRunChoice): RunnerSettings {
  const keepResultsMs = keepResultsMsFrom(config);
  return { ...(keepResultsMs !== undefined && { transportRetentionMs: keepResultsMs }), ...run.runner };
}

/** What the host asks for as the executor, over the configuration's own choice. */
export interface ExecutorRequest {
  /**
   * A name (an entry of the configuration's `executors`, else a shorthand: an agent CLI,
   * `command:<template>` or JSON), or an executor object. Absent: the configuration's
   * `defaultExecutor` (or its only entry).
   */
  executor?: unknown;
  /**
   * Whether an executor object in the request keeps its own `verify` over a host-layer verify
   * (flag or setting). The CLI: no (`--verify` beats every verify); the extension: yes (an
   * executor object in the settings is more specific than the verify setting). Documented in
   * docs/config-usage.md.
   */
  requestKeepsOwnVerify?: boolean;
}

/** The executor could not be chosen; `source` says whose input to fix (the host words the advice). */
export class ExecutorChoiceError extends SwarmUserError {
  constructor(
    readonly source: 'request' | 'file',
    message: string,
  ) {
    super(source === 'request' ? 'input' : 'config', message);
    this.name = 'ExecutorChoiceError';
  }
}

/**
 * The executor to run, with its verify command: the request, else the configuration's choice;
 * undefined when neither names one (the host decides what then: the CLI looks for an agent CLI on
 * PATH, the extension asks the user to configure one). Verify: a host-layer verify (flags,
 * settings) beats the executor's own (see requestKeepsOwnVerify); the file's top-level verify
 * applies only to an executor without its own.
 */
export function resolveExecutorChoice(effective: Pick<EffectiveConfig, 'config' | 'origins'>, request: ExecutorRequest = {}): ExecutorConfig | undefined {
  const { config } = effective;
  const executor = chosenExecutor(config, request.executor);
  if (executor === undefined) return undefined;
  const hostVerify = effective.origins.verify !== undefined && effective.origins.verify !== 'file' ? config.verify : undefined;
  const requestHasVerify = typeof request.executor === 'object' && request.executor !== null && 'verify' in request.executor;
  const verify = hostVerify !== undefined && !(request.requestKeepsOwnVerify && requestHasVerify) ? hostVerify : executor.verify === undefined ? config.verify : undefined;
  if (verify === undefined) return executor;
  return parseExecutorConfig({ ...executor, verify });
}

function chosenExecutor(config: SwarmConfig, requested: unknown): ExecutorConfig | undefined {
  if (typeof requested === 'string' && config.executors?.[requested.trim()] !== undefined) return fileExecutor(() => selectExecutor(config, requested.trim()));
  if (requested !== undefined) {
    try {
      return typeof requested === 'string' ? parseExecutorShorthand(requested) : parseExecutorConfig(requested);
    } catch (error) {
      throw new ExecutorChoiceError('request', messageOf(error));
    }
  }
  return fileExecutor(() => selectExecutor(config));
}

function fileExecutor(select: () => unknown): ExecutorConfig | undefined {
  try {
    const entry = select();
    return entry === undefined ? undefined : parseExecutorConfig(entry);
  } catch (error) {
    throw new ExecutorChoiceError('file', messageOf(error));
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
