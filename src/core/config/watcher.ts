// Keeps the configuration current while the file is edited. An edit that breaks the file reports
// its problems and leaves the last good configuration in force, so a half-typed save never stops
// a running swarm or swaps its executor for the defaults.
import fs from 'node:fs';
import type { ConfigProblem } from './problems';
import { configFilePath, type IgnoredSetting, loadSwarmConfig } from './load';
import { CONFIG_FILE_NAME, type SwarmConfig } from './schema';

export interface ConfigState {
  /** The configuration in force: the file's, or the last good one while the file is invalid. */
  config: SwarmConfig;
  /** Problems in the file as it is now (empty when it is valid or absent). */
  errors: ConfigProblem[];
  ignored: IgnoredSetting[];
  /** True while the file is invalid and an earlier good version is in force. */
  keptLastGood: boolean;
  source: 'file' | 'none';
}

export interface WatcherOptions {
  trusted: boolean;
  /** Wait this long after a change before reading (editors write in several steps). Default 100 ms. */
  debounceMs?: number;
}

export class SwarmConfigWatcher {
  private state: ConfigState;
  private trusted: boolean;
  private readonly debounceMs: number;
  private readonly listeners = new Set<(state: ConfigState) => void>();
  private fsWatcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastText: string | undefined;

  constructor(
    readonly workspaceRoot: string,
    options: WatcherOptions,
  ) {
    this.trusted = options.trusted;
    this.debounceMs = options.debounceMs ?? 100;
    this.state = { config: {}, errors: [], ignored: [], keptLastGood: false, source: 'none' };
    this.reload();
  }

  get current(): ConfigState {
    return this.state;
  }

  get file(): string {
    return configFilePath(this.workspaceRoot);
  }

  /** Reads the file now; listeners hear about it when anything changed. */
  reload(): ConfigState {
    const loaded = loadSwarmConfig(this.workspaceRoot, { trusted: this.trusted });
    const previous = this.state;
    this.state =
      loaded.config !== undefined
        ? { config: loaded.config, errors: [], ignored: loaded.ignored, keptLastGood: false, source: loaded.source }
        : { config: previous.config, errors: loaded.errors, ignored: previous.ignored, keptLastGood: true, source: 'file' };
    if (JSON.stringify(previous) !== JSON.stringify(this.state)) this.emit();
    return this.state;
  }

  /** Trust granted (or lost): reload with the new trust. */
  setTrusted(trusted: boolean): ConfigState {
    this.trusted = trusted;
    return this.reload();
  }

  onDidChange(listener: (state: ConfigState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /**
   * Watches the workspace folder (not the file: editors save by rename, and the file may not exist
   * yet). The extension may call reload() from its own FileSystemWatcher instead.
   */
  watch(): this {
    if (this.fsWatcher) return this;
    this.fsWatcher = fs.watch(this.workspaceRoot, { persistent: false }, (_event, name) => {
      if (name === null || name.toString() === CONFIG_FILE_NAME) this.schedule();
    });
    this.fsWatcher.on('error', () => this.dispose());
    return this;
  }

  dispose(): void {
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const text = readOrUndefined(this.file);
      if (text === this.lastText && text !== undefined) return;
      this.lastText = text;
      this.reload();
    }, this.debounceMs);
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.state);
  }
}

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
