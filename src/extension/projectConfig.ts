// swarm.config.json in the extension: the same file `swarm run` reads, kept current while it is
// edited. It names commands (executors, verify, worktree setup), so it is honoured only in a
// trusted workspace; in Restricted Mode it is ignored, and the user is told so once. An invalid
// edit is reported (file, JSON path, what was expected) and the last good configuration stays in
// force, so a half-typed save never swaps the executor of a running swarm.
import * as vscode from 'vscode';
import { CONFIG_FILE_NAME, configFilePath, formatConfigProblem, SwarmConfigWatcher, type ConfigProblem, type ConfigState, type SwarmConfig } from '../core/config';
import { DisposableBase } from './disposable';

const OPEN_FILE = 'Open swarm.config.json';
const RELOAD_DEBOUNCE_MS = 100;

export interface ProjectConfigView {
  /** The file's configuration in force: `{}` without a file, in Restricted Mode, or before a first valid version. */
  readonly config: SwarmConfig;
  readonly state: ConfigState | undefined;
  readonly file: string | undefined;
  readonly honoured: boolean;
}

export class ProjectConfig extends DisposableBase implements ProjectConfigView, vscode.Disposable {
  private core: SwarmConfigWatcher | undefined;
  private readonly changeEmitter = this.register(new vscode.EventEmitter<void>());
  private reloadTimer: NodeJS.Timeout | undefined;
  private lastReported = '';
  private restrictedNoticeShown = false;
  /** A valid version of the file was in force at some point (so there is a last good one to keep). */
  private hadValidFile = false;
  /** Fires when the configuration in force (or its problems) changed. */
  readonly onDidChange = this.changeEmitter.event;

  constructor(
    private readonly workspaceRoot: string | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    if (!workspaceRoot) return;
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(workspaceRoot), CONFIG_FILE_NAME)));
    this.register(watcher.onDidCreate(() => this.scheduleReload()));
    this.register(watcher.onDidChange(() => this.scheduleReload()));
    this.register(watcher.onDidDelete(() => this.scheduleReload()));
    this.register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.onTrustGranted()));
    this.load();
  }

  get file(): string | undefined {
    return this.workspaceRoot ? configFilePath(this.workspaceRoot) : undefined;
  }

  get honoured(): boolean {
    return this.core !== undefined;
  }

  get state(): ConfigState | undefined {
    return this.core?.current;
  }

  get config(): SwarmConfig {
    return this.core?.current.config ?? {};
  }

  /** Reads the file now (the watcher does this on every change; tests and commands may call it). */
  reload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = undefined;
    if (!this.core) {
      this.load();
      return;
    }
    const before = JSON.stringify(this.core.current);
    const state = this.core.reload();
    this.report(state);
    if (JSON.stringify(state) !== before) this.changeEmitter.fire();
  }

  private load(): void {
    const root = this.workspaceRoot;
    if (!root) return;
    if (!vscode.workspace.isTrusted) {
      this.noticeRestricted();
      return;
    }
    this.core = new SwarmConfigWatcher(root, { trusted: true });
    const state = this.core.current;
    if (state.source === 'file') this.log.info(`Project configuration: ${this.core.file}${state.errors.length > 0 ? ' (invalid)' : ''}`);
    this.report(state);
  }

  private onTrustGranted(): void {
    if (this.core) return;
    this.log.info('The folder is trusted now: reading swarm.config.json.');
    this.load();
    this.changeEmitter.fire();
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.reload(), RELOAD_DEBOUNCE_MS);
  }

  /** Restricted Mode: the file is not read at all; said once, only when there is a file to ignore. */
  private noticeRestricted(): void {
    const file = this.file as string;
    if (this.restrictedNoticeShown) return;
    void vscode.workspace.fs.stat(vscode.Uri.file(file)).then(
      () => {
        if (this.restrictedNoticeShown || vscode.workspace.isTrusted) return;
        this.restrictedNoticeShown = true;
        const message = `${CONFIG_FILE_NAME} is ignored in Restricted Mode: it names commands the swarm would run. Trust the folder (Manage Workspace Trust) to use it.`;
        this.log.info(`${file}: ${message}`);
        void vscode.window.showInformationMessage(message);
      },
      () => undefined,
    );
  }

  /** Logs every problem and shows the first, once per distinct set of problems. */
  private report(state: ConfigState): void {
    if (state.errors.length === 0 && state.source === 'file') this.hadValidFile = true;
    const text = state.errors.map(formatConfigProblem).join('\n');
    if (text === this.lastReported) return;
    this.lastReported = text;
    if (state.errors.length === 0) {
      if (state.source === 'file') this.log.info(`Project configuration in force: ${this.file}`);
      return;
    }
    for (const problem of state.errors) this.log.error(formatConfigProblem(problem));
    void showProblems(state.errors, state.keptLastGood && this.hadValidFile);
  }

  override dispose(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.core?.dispose();
    this.core = undefined;
    super.dispose();
  }
}

async function showProblems(problems: readonly ConfigProblem[], keptLastGood: boolean): Promise<void> {
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}, see the Agent Swarm log)` : '';
  const kept = keptLastGood ? 'The last valid configuration stays in force until the file is fixed.' : 'The file is not used until it is fixed.';
  const choice = await vscode.window.showErrorMessage(`${CONFIG_FILE_NAME} is invalid: ${formatConfigProblem(first)}${more}. ${kept}`.trim(), OPEN_FILE);
  if (choice === OPEN_FILE) await openAt(first);
}

async function openAt(problem: ConfigProblem): Promise<void> {
  const document = await vscode.workspace.openTextDocument(vscode.Uri.file(problem.file));
  const position = new vscode.Position(Math.max(0, (problem.line ?? 1) - 1), Math.max(0, (problem.column ?? 1) - 1));
  await vscode.window.showTextDocument(document, { selection: new vscode.Range(position, position) });
}
