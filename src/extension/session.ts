// The extension's session: owns the open board (`<workspace>/.swarm`), its watcher, and the agent
// pool while it runs. Views, commands and the other engineers' modules read everything through
// it and listen to its `onDidChange*` events.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { DEFAULT_BOARD_DIR, FileBoardEngine as FileBoard } from '../core/board';
import { FileBoard as AsyncFileBoard } from '../core/board/fileBoard';
import { BoardInUseError } from '../core/board/board';
import { failedOpen, mayOpenAgain, type FailedOpen } from './logic/boardOpen';
import { BoardUnavailableError, type Board, type Following } from '../core/board/interface';
import { describeBoardLocation, openBoard as openBoardAt, parseBoardLocation } from '../core/board/open';
import { poolSettingsFrom, resolveEffectiveConfig, worktreeSettingsFrom, formatConfigProblem, type EffectiveConfig } from '../core/config';
import type { ExecutorConfig } from '../core/executors';
import { boardAccessOf, buildPool, ExecutorChoiceError, resolveExecutorChoice, watchRunnerServesFor, type AgentPool, type BoardAccess, type PoolEvent, type PoolOptions, type PoolRunChoice } from '../core/pool';
import { describeSandbox, SandboxUnavailableError } from '../core/sandbox';
import { NotAGitRepositoryError } from '../core/worktree';
import { POOL_RUNNING_STATE, ContextKeys, boardSetting, executorSetting, isolationSetting, settingsConfigLayer } from './settings';
import { setContext } from './context';
import { ProjectConfig } from './projectConfig';

export interface SessionDeps {
  getBoard(): FileBoard | undefined;
  getPool(): AgentPool | undefined;
  onDidChangePool: vscode.Event<void>;
  onDidChangeBoard: vscode.Event<void>;
  log: vscode.LogOutputChannel;
}

/** Thrown for things the user can fix; the message says what happened and what to do. */
export class UserFacingError extends Error {}

/** The pool's options from the effective configuration (swarm.config.json under the user's settings). */
export type SessionPoolSettings = Pick<PoolOptions, 'minAgents' | 'maxAgents' | 'idleTimeoutMs' | 'leaseMs' | 'limits'> & {
  isolation: 'worktree' | 'direct' | 'auto';
  worktrees: ReturnType<typeof worktreeSettingsFrom>;
};

export class SwarmSession implements SessionDeps, vscode.Disposable {
  private board: FileBoard | undefined;
  private project: ProjectConfig | undefined;
  private boardWatch: { dispose(): void } | undefined;
  private pool: AgentPool | undefined;
  private poolSubscription: { dispose(): void } | undefined;
  private starting: Promise<void> | undefined;
  private unreadableBoard: FailedOpen | undefined;
  /** The pool for which the board engine (getBoard) could not be opened. */
  private unreadableEngineFor: AgentPool | undefined;
  /** The views' board: the file board with its engine in a worker thread (no board I/O here). */
  private viewBoardOpening: Promise<Board> | undefined;
  private viewBoardFollow: Following | undefined;
  /** The agentSwarm.board value that failed to open, so polling views report it once. */
  private unusableSetting: string | undefined;
  /** The message shown when agentSwarm.board could not be used (cleared when it is retried). */
  private lastBoardProblem: string | undefined;
  /** How agentSwarm.board's board failed to open last (kept across retries, so the same refusal is said once). */
  private unusableFailure: FailedOpen | undefined;
  private readonly boardSettingWatch = vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration('agentSwarm.board')) void this.reopenViewBoard();
  });
  private readonly boardEmitter = new vscode.EventEmitter<void>();
  private readonly poolEmitter = new vscode.EventEmitter<void>();
  private readonly poolEventEmitter = new vscode.EventEmitter<PoolEvent>();
  readonly onDidChangeBoard = this.boardEmitter.event;
  readonly onDidChangePool = this.poolEmitter.event;
  /** Every pool event (stats included), for views that show live figures. */
  readonly onPoolEvent = this.poolEventEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {}

  /** The workspace the board belongs to: the first folder (multi-root uses the first). */
  get workspaceRoot(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /** The file board's folder: agentSwarm.board when it names a folder, else the workspace's .swarm. */
  get boardDir(): string | undefined {
    const root = this.workspaceRoot;
    const setting = boardSetting();
    if (setting !== '' && !this.usesRemoteBoard) {
      try {
        const location = parseBoardLocation(setting, { cwd: root });
        if (location.kind === 'file') return location.root;
      } catch {
        // Reported once when the views open it (openConfiguredBoard).
      }
    }
    return root ? path.join(root, DEFAULT_BOARD_DIR) : undefined;
  }

  /**
   * The board engine of the running pool's file board (the dashboard records its resources there);
   * undefined without a pool. Never creates a board and reads nothing from disk here: the pool
   * started on the views' board, so its folder exists.
   */
  getBoard(): FileBoard | undefined {
    // A Redis board in agentSwarm.board is the active board: a .swarm folder here is not it (the
    // dashboard's resource figures, for one, must not land in a board nobody uses).
    if (this.usesRemoteBoard || !this.pool) return undefined;
    if (this.board) return this.board;
    // A board engine that failed to open is not retried for the same pool, so callers that poll
    // getBoard() do not repeat the error.
    if (this.unreadableEngineFor === this.pool) return undefined;
    try {
      return this.openBoard();
    } catch (error) {
      this.unreadableEngineFor = this.pool;
      this.reportUnreadableBoard(this.boardDir as string, error);
      return undefined;
    }
  }

  /**
   * The board the views, status bar and commands read and write, or undefined while the workspace
   * has none. Its engine runs in a worker thread, so listing 10,000 tasks never blocks this thread;
   * its events drive onDidChangeBoard. Never creates a board.
   */
  async viewBoard(): Promise<Board | undefined> {
    if (this.viewBoardOpening) return this.viewBoardOpening.catch(() => undefined);
    const setting = boardSetting();
    if (setting !== '') return this.openConfiguredBoard(setting);
    const dir = this.boardDir;
    if (!dir) return undefined;
    const marker = path.join(dir, 'board.json');
    const stamp = await markerStamp(marker);
    if (stamp === 'missing' || !mayOpenAgain(this.unreadableBoard, stamp, Date.now())) return undefined;
    // Another caller may have started opening it while the marker was read.
    const started = this.viewBoardOpening as Promise<AsyncFileBoard> | undefined;
    if (started) return started.catch(() => undefined);
    return this.openViewBoard(dir).then(
      (board) => ((this.unreadableBoard = undefined), board),
      (error: unknown) => {
        const failed = failedOpen(stamp, error, Date.now(), this.unreadableBoard);
        this.unreadableBoard = failed;
        if (failed.news) this.reportUnreadableBoard(dir, error);
        // The views look again when told the board changed: after a refusal that passes by itself, so they do.
        if (failed.retryAt !== undefined) setTimeout(() => this.boardEmitter.fire(), failed.retryAt - Date.now()).unref();
        return undefined;
      },
    );
  }

  /** The views' board, created on first use (posting a task from a view or a command). */
  async ensureViewBoard(): Promise<Board> {
    const existing = await this.viewBoard();
    if (existing) return existing;
    if (boardSetting() !== '') throw new UserFacingError('The board in the agentSwarm.board setting cannot be used right now; the Agent Swarm log says why.');
    if (!this.workspaceRoot) throw new UserFacingError('Agent Swarm needs an open folder: its task board lives in the folder (.swarm). Open a folder and try again.');
    return this.openViewBoard(this.boardDir as string);
  }

  /** Whether agentSwarm.board names a Redis board (a board shared with other machines). */
  get usesRemoteBoard(): boolean {
    return /^rediss?:\/\//i.test(boardSetting());
  }

  /** Stores the board's password in VS Code's secret storage (never in settings) and reconnects. */
  async setBoardPassword(password: string | undefined): Promise<void> {
    if (password) await this.context.secrets.store(BOARD_PASSWORD_SECRET, password);
    else await this.context.secrets.delete(BOARD_PASSWORD_SECRET);
    await this.reopenViewBoard();
  }

  /** The board agentSwarm.board names; one plain message (no stack, no password) when it cannot be used. */
  private async openConfiguredBoard(setting: string): Promise<Board | undefined> {
    if (this.unusableSetting === setting) return undefined;
    let where = 'in the agentSwarm.board setting';
    try {
      const secret = await this.context.secrets.get(BOARD_PASSWORD_SECRET);
      const env = secret ? { ...process.env, SWARM_BOARD_PASSWORD: secret } : process.env;
      const location = parseBoardLocation(setting, { cwd: this.workspaceRoot, env });
      where = describeBoardLocation(location);
      const board = await this.openViewBoard(where, () => openBoardAt(location, { thread: 'worker' }));
      this.unusableFailure = undefined;
      return board;
    } catch (error) {
      const failed = failedOpen(setting, error, Date.now(), this.unusableFailure);
      this.unusableSetting = setting;
      this.unusableFailure = failed;
      const message = `The board ${where} cannot be used: ${boardProblemInEditor(error)}.`;
      this.lastBoardProblem = message;
      // A refusal that passes by itself (an older build stops) is tried again, the setting unchanged.
      if (failed.retryAt !== undefined) setTimeout(() => this.unusableSetting === setting && this.retryUnusableBoard(), failed.retryAt - Date.now()).unref();
      if (!failed.news) return undefined;
      this.log.error(message);
      void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => {
        if (choice) this.log.show(true);
      });
      return undefined;
    }
  }

  /** Why the board agentSwarm.board names cannot be used, as shown to the user; undefined when it can. */
  get boardProblem(): string | undefined {
    return this.unusableSetting === undefined ? undefined : this.lastBoardProblem;
  }

  /** Refresh after a board could not be used (the server was started since): try it again. */
  retryUnusableBoard(): void {
    if (this.unusableSetting === undefined) return;
    this.unusableSetting = undefined;
    this.boardEmitter.fire();
  }

  /** Closes the views' board and tells the views to read the (newly configured) one. */
  private async reopenViewBoard(): Promise<void> {
    await this.closeViewBoard();
    this.unusableSetting = undefined;
    this.unusableFailure = undefined;
    this.boardEmitter.fire();
  }

  private openViewBoard(dir: string, open: () => Promise<Board> = () => AsyncFileBoard.open({ root: dir, thread: 'worker' })): Promise<Board> {
    if (this.viewBoardOpening) return this.viewBoardOpening;
    const opening = open();
    this.viewBoardOpening = opening;
    opening.then(
      (board) => {
        this.viewBoardFollow = board.follow(() => this.boardEmitter.fire(), { onError: (error) => this.log.warn(`Following the board: ${errorMessage(error)}`) });
        void setContext(ContextKeys.hasBoard, true);
        this.log.info(`Board opened at ${dir} (views: worker thread)`);
        this.boardEmitter.fire();
      },
      () => {
        if (this.viewBoardOpening === opening) this.viewBoardOpening = undefined;
      },
    );
    return opening;
  }

  private reportUnreadableBoard(dir: string, error: unknown): void {
    const until = error instanceof BoardInUseError ? 'the older Agent Swarm stops (they look again every few seconds)' : 'it is repaired or removed';
    const message = `The task board in ${dir} cannot be read: ${errorMessage(error)}. The Swarm views stay empty until ${until}.`;
    this.log.error(message);
    void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => {
      if (choice) this.log.show(true);
    });
  }

  /** The board, created on first use (posting a task or starting the pool). */
  ensureBoard(): FileBoard {
    if (this.board) return this.board;
    if (!this.workspaceRoot) throw new UserFacingError('Agent Swarm needs an open folder: its task board lives in the folder (.swarm). Open a folder and try again.');
    return this.openBoard();
  }

  private openBoard(): FileBoard {
    const dir = this.boardDir as string;
    const board = FileBoard.open({ root: dir });
    this.board = board;
    this.boardWatch = board.watch(() => this.boardEmitter.fire(), { debounceMs: 150 });
    void setContext(ContextKeys.hasBoard, true);
    this.log.info(`Board opened at ${dir}`);
    this.boardEmitter.fire();
    return board;
  }

  /** Tells listeners the board changed now (after our own writes, without waiting for the watcher). */
  notifyBoardChanged(): void {
    this.boardEmitter.fire();
  }

  getPool(): AgentPool | undefined {
    return this.pool;
  }

  get isRunning(): boolean {
    return this.pool !== undefined;
  }

  /** Starts the pool. Refuses in an untrusted workspace and without an executor. */
  async start(options: { hostEnv?: NodeJS.ProcessEnv } = {}): Promise<void> {
    if (this.pool) return;
    if (this.starting) return this.starting;
    this.starting = this.startPool(options.hostEnv).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startPool(hostEnv: NodeJS.ProcessEnv | undefined): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      throw new UserFacingError('Agent Swarm does not start agents in Restricted Mode: agents run commands from this folder. Trust the folder (Manage Workspace Trust) to start the swarm.');
    }
    const executor = this.resolveExecutor();
    const { config } = this.effectiveConfigOrThrow();
    // The views' board: its engine runs in a worker thread, so the pool's board calls (stats ten
    // times a second, claims of the in-window sequential agent) never block the extension host.
    const { board, boardAccess } = this.usesRemoteBoard ? await this.sharedBoardForPool() : { board: await this.ensureViewBoard(), boardAccess: undefined };
    const workspaceRoot = this.workspaceRoot as string;
    const isolation = isolationSetting();
    const run: PoolRunChoice = { isolation: isolation === 'auto' ? undefined : isolation };
    // On a shared board the board routes: this window's agents take only tasks they can serve (kept
    // current while the pool runs: a remote added to this clone later is served too).
    const servesWatch = this.usesRemoteBoard ? await watchRunnerServesFor({ workspaceRoot }, run) : undefined;
    if (servesWatch) run.serves = servesWatch.serves;
    const pool = buildPool(config, executor, {
      board,
      ...(boardAccess && { boardAccess }),
      workspaceRoot,
      env: hostEnv,
      log: (line) => this.log.info(`[pool] ${line}`),
      worktreeLog: (line) => this.log.info(`[worktree] ${line}`),
    }, run);
    this.poolSubscription = pool.onEvent((event) => this.onPoolEventReceived(event));
    this.pool = pool;
    servesWatch?.start(() => pool.servesChanged());
    const stopWatch = (): void => servesWatch?.stop();
    void pool.whenDone().then(stopWatch, stopWatch);
    try {
      await pool.start();
    } catch (error) {
      stopWatch();
      this.pool = undefined;
      this.poolSubscription.dispose();
      if (error instanceof NotAGitRepositoryError) throw new UserFacingError(`${errorMessage(error)}. In VS Code, set "agentSwarm.isolation": "direct" in this folder's settings.`);
      if (error instanceof SandboxUnavailableError) throw new UserFacingError(`${errorMessage(error)} (setting agentSwarm.sandbox)`);
      throw new UserFacingError(`The agent pool did not start: ${errorMessage(error)}. Check the executor (Swarm: Configure Executor) and the Agent Swarm log.`);
    }
    if (pool.verifyFailure !== undefined) await this.refuseForVerify(pool, pool.verifyFailure);
    void pool.whenDone().then(() => this.onPoolStopped(pool));
    await this.context.workspaceState.update(POOL_RUNNING_STATE, true);
    void setContext(ContextKeys.running, true);
    this.log.info(`Pool started (${pool.mode})`);
    this.poolEmitter.fire();
  }

  /**
   * The verify command already failed before any change: the pool stopped itself before claiming a
   * task (every task would have failed it). The whole output goes to the log; the message is its
   * first line, which names the command and the first line of its output.
   */
  private async refuseForVerify(pool: AgentPool, failure: string): Promise<never> {
    await pool.whenDone().catch(() => undefined);
    this.onPoolStopped(pool);
    this.log.error(failure);
    const what = failure.split('\n')[0].replace(/\.\s*$/, '');
    throw new UserFacingError(`${what}. No task was started: fix the verify command (agentSwarm.verify or swarm.config.json) or the code it checks, then start the swarm again.`);
  }

  /**
   * The Redis board agentSwarm.board names, for the pool: the views' connection, and how agent
   * processes reach it (the password from secret storage goes only into their environment).
   */
  private async sharedBoardForPool(): Promise<{ board: Board; boardAccess: BoardAccess }> {
    const board = await this.viewBoard();
    if (!board) throw new UserFacingError(this.boardProblem ?? 'The board in the agentSwarm.board setting cannot be used right now; the Agent Swarm log says why.');
    const secret = await this.context.secrets.get(BOARD_PASSWORD_SECRET);
    const env = secret ? { ...process.env, SWARM_BOARD_PASSWORD: secret } : process.env;
    const boardAccess = boardAccessOf(parseBoardLocation(boardSetting(), { cwd: this.workspaceRoot, env }));
    this.log.info(`The pool works on the shared board ${board.describe()} (tasks posted with a snapshot start from the poster's working state, others from this folder's current state).`);
    return { board, boardAccess };
  }

  /** Reads and starts watching swarm.config.json (after activation: it reads a file). */
  watchProjectConfig(): void {
    void this.projectConfig;
  }

  /** swarm.config.json, watched while the session lives (honoured only in a trusted workspace). */
  get projectConfig(): ProjectConfig {
    if (!this.project) {
      const project = new ProjectConfig(this.workspaceRoot, this.log);
      project.onDidChange(() => {
        if (this.pool) this.log.info('swarm.config.json changed: the running pool keeps its settings; they apply at the next start.');
      });
      this.project = project;
    }
    return this.project;
  }

  /** swarm.config.json under the settings the user set; a conflict between them is an error to fix. */
  effectiveConfig(): EffectiveConfig {
    return resolveEffectiveConfig({ file: this.projectConfig.config, settings: settingsConfigLayer() });
  }

  private effectiveConfigOrThrow(): EffectiveConfig {
    const effective = this.effectiveConfig();
    if (effective.errors.length > 0) {
      throw new UserFacingError(`The Agent Swarm settings and swarm.config.json do not fit together: ${effective.errors.map(formatConfigProblem).join('; ')}. Change the setting or the file.`);
    }
    return effective;
  }

  /**
   * The executor: the agentSwarm.executor setting when the user set one (an object, a shorthand,
   * or the name of an entry in swarm.config.json), else the file's defaultExecutor (or its only
   * entry). A clear error when neither names one.
   */
  resolveExecutor(): ExecutorConfig {
    const effective = this.effectiveConfigOrThrow();
    let executor: ExecutorConfig | undefined;
    try {
      // An executor object in the setting keeps its own verify over the verify setting (docs/config-usage.md).
      executor = resolveExecutorChoice(effective, { executor: executorSetting(), requestKeepsOwnVerify: true });
    } catch (error) {
      if (!(error instanceof ExecutorChoiceError)) throw error;
      if (error.source === 'request') throw new UserFacingError(`The executor setting (agentSwarm.executor) is invalid: ${errorMessage(error)}. Fix it in Settings or run "Swarm: Configure Executor".`);
      throw new UserFacingError(`The executor in swarm.config.json cannot be used: ${errorMessage(error)}. Fix the file (${this.projectConfig.file}).`);
    }
    if (executor !== undefined) return executor;
    throw new UserFacingError(
      'No executor is configured, so the swarm does not know how to run tasks. Run "Swarm: Configure Executor" to pick a coding-agent CLI, a command or a model, or set "defaultExecutor" in swarm.config.json.',
    );
  }

  /** Pool size, limits and worktree options from swarm.config.json under the user's settings. */
  poolSettings(): SessionPoolSettings {
    const { config } = this.effectiveConfigOrThrow();
    return { ...poolSettingsFrom(config), isolation: isolationSetting(), worktrees: worktreeSettingsFrom(config) };
  }

  async stop(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await this.context.workspaceState.update(POOL_RUNNING_STATE, false);
    await pool.stop({ graceMs: 5_000 });
    this.onPoolStopped(pool);
  }

  /** Whether the pool ran when the window closed (it resumes after a reload). */
  get wasRunning(): boolean {
    return this.context.workspaceState.get<boolean>(POOL_RUNNING_STATE, false);
  }

  private onPoolEventReceived(event: PoolEvent): void {
    this.poolEventEmitter.fire(event);
    if (event.type === 'warning') this.log.warn(`[pool] ${event.message}`);
    if (event.type === 'sandbox') {
      if (event.status.active) this.log.info(`[pool] ${describeSandbox(event.status)}`);
      else this.log.warn(`[pool] ${describeSandbox(event.status)}`);
    }
    if (event.type === 'task-finished') for (const warning of event.warnings ?? []) this.log.warn(`[pool] task ${event.taskId}: ${warning}`);
    if (event.type === 'task-failed') this.log.warn(`[pool] task ${event.taskId} ${attemptEndWord(event.kind)}: ${event.message}`);
    if (event.type !== 'stats') this.poolEmitter.fire();
  }

  private onPoolStopped(pool: AgentPool): void {
    if (this.pool !== pool) return;
    this.pool = undefined;
    this.poolSubscription?.dispose();
    this.poolSubscription = undefined;
    void setContext(ContextKeys.running, false);
    this.log.info('Pool stopped');
    this.poolEmitter.fire();
  }

  /**
   * Deactivation: agents are stopped (unfinished tasks become claimable again); resolves when they
   * have. The persisted "running" flag is kept so the next window resumes.
   */
  stopForShutdown(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.poolSubscription?.dispose();
    this.poolSubscription = undefined;
    return pool ? pool.stop({ graceMs: 1_000 }).then(() => undefined, () => undefined) : Promise.resolve();
  }

  private async closeViewBoard(): Promise<void> {
    const opening = this.viewBoardOpening;
    this.viewBoardOpening = undefined;
    const following = this.viewBoardFollow;
    this.viewBoardFollow = undefined;
    await following?.dispose().catch(() => undefined);
    const board = await opening?.catch(() => undefined);
    await board?.close().catch(() => undefined);
  }

  dispose(): void {
    this.boardSettingWatch.dispose();
    void this.stopForShutdown();
    this.project?.dispose();
    this.project = undefined;
    this.boardWatch?.dispose();
    this.board?.close();
    this.board = undefined;
    void this.closeViewBoard();
    this.boardEmitter.dispose();
    this.poolEmitter.dispose();
    this.poolEventEmitter.dispose();
  }
}

/** The core's one-line problem with the fix a VS Code user makes: a setting or a command, not a CLI flag. */
function boardProblemInEditor(error: unknown): string {
  const message = errorMessage(error);
  if (!(error instanceof BoardUnavailableError)) return `${message}. Fix the agentSwarm.board setting`;
  const what = message.split(';')[0];
  if (error.problem === 'auth') return `${what}; run "Swarm: Set Board Password" (or set SWARM_BOARD_PASSWORD) and the views reconnect`;
  if (error.problem === 'unreachable') return `${what}; start the server and refresh the Tasks view, or correct the agentSwarm.board setting`;
  return message;
}

/** Where the password of a Redis board named by agentSwarm.board is kept (VS Code's SecretStorage). */
const BOARD_PASSWORD_SECRET = 'agentSwarm.boardPassword';

async function markerStamp(file: string): Promise<string> {
  try {
    const stat = await fs.promises.stat(file);
    return `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return 'missing';
  }
}

export function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.\s*$/, '');
}

/** How the log words an attempt that ended without a result: only a failure says "failed". */
function attemptEndWord(kind: string): string {
  if (kind === 'cancelled') return 'was cancelled';
  if (kind === 'released') return 'was handed back';
  if (kind === 'lost') return 'lost its lease';
  return `failed (${kind})`;
}
