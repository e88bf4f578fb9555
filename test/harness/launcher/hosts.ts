// The two ways of getting a real extension host to run the suites:
// - code-server + headless Chromium (offline; installed from the npm registry and Debian),
// - @vscode/test-electron (desktop VS Code: downloaded, or named by VSCODE_EXECUTABLE_PATH).
// Both load the same test module and report through the same results file.
import * as fs from 'fs';
import * as path from 'path';
import { ensureCodeServer } from '../../../scripts/vscode/install-code-server';
import { launchBrowser } from './browser';
import { startCodeServer } from './code-server';
import { ProcessTracker, RUN_TAG_ENV } from './processes';
import { ROOT } from './workspace';

export type LauncherName = 'code-server' | 'electron';

export interface HostStartOptions {
  workspace: string;
  scratch: string;
  trusted: boolean;
  settings?: Record<string, unknown>;
  /** The extensionTestsPath module for this run. */
  testsEntry: string;
  tracker: ProcessTracker;
  log: (line: string) => void;
}

export interface StartedHost {
  /** Resolves with a reason when VS Code ends or breaks on its own. */
  died: Promise<string>;
  /** Log files worth keeping when the run fails. */
  logFiles: string[];
  /** Closes what can be closed politely; the tracker kills the rest by pid. */
  stop(): Promise<void>;
}

export interface HostLauncher {
  name: LauncherName;
  /** Installs or finds what is needed, once per launcher process; returns a one-line description. */
  prepare(log: (line: string) => void): Promise<string>;
  start(options: HostStartOptions): Promise<StartedHost>;
}

/** A VS Code that @vscode/test-electron downloaded earlier, in its default cache. */
function downloadedVSCode(): string | undefined {
  const cache = path.join(ROOT, '.vscode-test');
  if (!fs.existsSync(cache)) return undefined;
  return fs.readdirSync(cache).find((name) => name.startsWith('vscode-'));
}

/**
 * $SWARM_TEST_LAUNCHER when set; else electron when VSCODE_EXECUTABLE_PATH names a VS Code or one
 * was downloaded into .vscode-test/; else code-server.
 */
export function chooseLauncher(requested = process.env.SWARM_TEST_LAUNCHER): LauncherName {
  if (requested) {
    if (requested !== 'code-server' && requested !== 'electron') {
      throw new Error(`SWARM_TEST_LAUNCHER must be code-server or electron, not ${requested}`);
    }
    return requested;
  }
  return process.env.VSCODE_EXECUTABLE_PATH || downloadedVSCode() ? 'electron' : 'code-server';
}

export function createLauncher(name: LauncherName): HostLauncher {
  return name === 'electron' ? electronLauncher() : codeServerLauncher();
}

function codeServerLauncher(): HostLauncher {
  let entry = '';
  return {
    name: 'code-server',
    async prepare(log) {
      const installed = await ensureCodeServer({ log });
      entry = installed.entry;
      return `code-server ${installed.version} (${installed.dir}) + headless Chromium`;
    },
    async start(options) {
      const server = await startCodeServer({
        entry,
        workspace: options.workspace,
        scratch: options.scratch,
        trusted: options.trusted,
        settings: options.settings,
        tracker: options.tracker,
        log: options.log,
      });
      const launched = await launchBrowser(options.tracker);
      const browserLog = path.join(options.scratch, 'browser.log');
      const writeBrowserLog = (line: string) => fs.appendFileSync(browserLog, `${new Date().toISOString()} ${line}\n`);
      const context = await launched.browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      page.on('console', (message) => writeBrowserLog(`[${message.type()}] ${message.text()}`));
      page.on('pageerror', (error) => writeBrowserLog(`[pageerror] ${error.stack ?? error.message}`));
      const died = new Promise<string>((resolve) => {
        void server.exited.then((how) => resolve(`code-server exited (${how})`));
        page.on('crash', () => resolve('the workbench page crashed'));
        page.on('close', () => resolve('the workbench page closed'));
        launched.browser.on('disconnected', () => resolve('Chromium disconnected'));
      });
      const url = server.workbenchUrl({
        folder: options.workspace,
        extensionDevelopmentPath: ROOT,
        extensionTestsPath: options.testsEntry,
      });
      writeBrowserLog(`opening ${url}`);
      // The extension host starts only once the workbench page is open.
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
      return {
        died,
        logFiles: [server.logFile, browserLog],
        stop: () => launched.close(),
      };
    },
  };
}

function electronLauncher(): HostLauncher {
  return {
    name: 'electron',
    async prepare() {
      const executable = process.env.VSCODE_EXECUTABLE_PATH;
      if (executable && !fs.existsSync(executable)) throw new Error(`VSCODE_EXECUTABLE_PATH=${executable} does not exist`);
      return `@vscode/test-electron with ${executable ?? `VS Code ${process.env.SWARM_VSCODE_VERSION ?? 'stable'} (downloaded into .vscode-test/)`}`;
    },
    async start(options) {
      const { runTests } = await import('@vscode/test-electron');
      const userData = path.join(options.scratch, 'user-data');
      const extensions = path.join(options.scratch, 'extensions');
      fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
      fs.mkdirSync(extensions, { recursive: true });
      fs.writeFileSync(
        path.join(userData, 'User', 'settings.json'),
        JSON.stringify({ 'security.workspace.trust.startupPrompt': 'never', ...options.settings }, null, 2),
      );
      const launchArgs = [
        options.workspace,
        `--user-data-dir=${userData}`,
        `--extensions-dir=${extensions}`,
        '--disable-extensions',
        '--skip-welcome',
        '--skip-release-notes',
        '--disable-gpu',
        '--no-sandbox',
      ];
      if (options.trusted) launchArgs.push('--disable-workspace-trust');
      const logFile = path.join(options.scratch, 'vscode.log');
      const died = runTests({
        vscodeExecutablePath: process.env.VSCODE_EXECUTABLE_PATH || undefined,
        version: process.env.SWARM_VSCODE_VERSION || undefined,
        extensionDevelopmentPath: ROOT,
        extensionTestsPath: options.testsEntry,
        launchArgs,
        // The tag makes every process VS Code starts findable (and killable) by the tracker.
        extensionTestsEnv: { [RUN_TAG_ENV]: options.tracker.tag },
      }).then(
        (code) => `VS Code exited (exit code ${code})`,
        (error: unknown) => `VS Code failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      void died.then((how) => fs.appendFileSync(logFile, `${how}\n`));
      return { died, logFiles: [logFile], stop: async () => undefined };
    },
  };
}
