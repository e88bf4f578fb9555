// Starts code-server (installed by scripts/vscode/install-code-server.js) on a free loopback port
// with throwaway user-data and extensions folders, and builds the workbench URLs that load the
// extension under development (and its tests) into the real Node extension host.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ProcessTracker } from './processes';

export interface CodeServerOptions {
  /** code-server's out/node/entry.js. */
  entry: string;
  /** Folder the workbench opens. */
  workspace: string;
  /** Scratch folder of this run: user data, extensions, logs and XDG folders go below it. */
  scratch: string;
  /** false: workspace trust stays on and the folder is untrusted (Restricted Mode). */
  trusted: boolean;
  /** Settings on top of the harness defaults, in the user's and the remote machine's settings.json. */
  settings?: Record<string, unknown>;
  tracker: ProcessTracker;
  /** Extra environment for code-server and so for the extension host. */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface CodeServer {
  port: number;
  pid: number;
  /** http://127.0.0.1:PORT */
  origin: string;
  logFile: string;
  /** Resolves with the exit code/signal when code-server exits. */
  exited: Promise<string>;
  /** The workbench URL for `folder` with extension-development parameters. */
  workbenchUrl(options: { folder: string; extensionDevelopmentPath?: string; extensionTestsPath?: string }): string;
}

/** Settings that keep the workbench quiet and offline for tests. */
export const DEFAULT_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.openRepositoryInParentFolders': 'never',
  // Untrusted runs enter Restricted Mode without the modal trust prompt.
  'security.workspace.trust.startupPrompt': 'never',
};

const LISTENING = /HTTP server listening on https?:\/\/[^:\s]+:(\d+)/;

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const userData = path.join(options.scratch, 'user-data');
  const extensions = path.join(options.scratch, 'extensions');
  const xdg = path.join(options.scratch, 'xdg');
  for (const dir of [userData, extensions, xdg, path.join(userData, 'User')]) fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    `${JSON.stringify({ ...DEFAULT_SETTINGS, ...options.settings }, null, 2)}\n`,
  );
  // code-server's window is a remote window: VS Code applies machine-scoped settings (such as
  // agentSwarm.executor and agentSwarm.verify) only from the remote machine's settings, and from the
  // user settings above only until the extension's settings schema is known. That race decided
  // whether the pool could start after a window reload, so the test's settings go there too.
  if (options.settings && Object.keys(options.settings).length > 0) {
    fs.mkdirSync(path.join(userData, 'Machine'), { recursive: true });
    fs.writeFileSync(path.join(userData, 'Machine', 'settings.json'), `${JSON.stringify(options.settings, null, 2)}\n`);
  }
  const logFile = path.join(options.scratch, 'code-server.log');
  const log = fs.openSync(logFile, 'a');
  const args = [
    options.entry,
    '--auth',
    'none',
    '--bind-addr',
    '127.0.0.1:0',
    '--user-data-dir',
    userData,
    '--extensions-dir',
    extensions,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--ignore-last-opened',
  ];
  if (options.trusted) args.push('--disable-workspace-trust');
  args.push(options.workspace);
  const child = spawn(process.execPath, args, {
    cwd: options.scratch,
    // Its own process group, so the whole tree can be killed at once with kill(-pid).
    detached: true,
    stdio: ['ignore', log, log],
    env: options.tracker.env(process.env, {
      XDG_CONFIG_HOME: path.join(xdg, 'config'),
      XDG_DATA_HOME: path.join(xdg, 'data'),
      XDG_CACHE_HOME: path.join(xdg, 'cache'),
      ...options.env,
    }),
  });
  fs.closeSync(log);
  options.tracker.track('code-server', child.pid, true);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, sig) => resolve(sig ? `signal ${sig}` : `exit code ${code}`));
    child.once('error', (error) => resolve(`spawn error: ${error.message}`));
  });
  let exitedWith: string | undefined;
  void exited.then((how) => (exitedWith = how));

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let port = 0;
  while (!port) {
    const match = LISTENING.exec(fs.readFileSync(logFile, 'utf8'));
    if (match) port = Number(match[1]);
    else if (exitedWith) throw new Error(`code-server exited during start (${exitedWith}); log: ${logFile}`);
    else if (Date.now() > deadline) throw new Error(`code-server did not start listening in time; log: ${logFile}`);
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const origin = `http://127.0.0.1:${port}`;
  await waitForHealth(origin, deadline);
  options.log?.(`code-server pid ${child.pid} listening on ${origin}`);
  const remote = (file: string) => `vscode-remote://127.0.0.1:${port}${encodeURI(file)}`;
  return {
    port,
    pid: child.pid as number,
    origin,
    logFile,
    exited,
    workbenchUrl({ folder, extensionDevelopmentPath, extensionTestsPath }) {
      const payload: [string, string][] = [];
      if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
      if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
      const query = `folder=${encodeURIComponent(folder)}` + (payload.length ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : '');
      return `${origin}/?${query}`;
    },
  };
}

async function waitForHealth(origin: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const response = await fetch(`${origin}/healthz`);
      if (response.ok) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`code-server at ${origin} did not answer /healthz in time`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
