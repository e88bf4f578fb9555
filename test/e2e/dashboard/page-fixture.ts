// Serves the dashboard page exactly as the extension builds it (same HTML, same CSP, the bundled
// script) from a loopback HTTP server, and a realistic update made from a real board run.
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { collectBoardMetrics } from '../../../src/core/metrics';
import type { PoolStats } from '../../../src/core/pool/types';
import { dashboardPageHtml } from '../../../src/extension/dashboard/page';
import type { DashboardUpdate } from '../../../src/shared/dashboardProtocol';
import { over } from '../../unit/patch/place';

export const ROOT = path.join(__dirname, '..', '..', '..');

export interface PageServer {
  url: string;
  origin: string;
  nonce: string;
  close(): Promise<void>;
}

/** Bundles src/webview/dashboard the way esbuild.js does (browser, iife) into a temp folder. */
export async function bundleWebview(outDir: string): Promise<string> {
  const outfile = path.join(outDir, 'dashboard.js');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'src', 'webview', 'dashboard', 'main.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

export async function servePage(scriptFile: string): Promise<PageServer> {
  const nonce = 'dGVzdC1ub25jZS0xMjM0NTY3';
  const files: Record<string, { file: string; type: string }> = {
    '/dist/webview/dashboard.js': { file: scriptFile, type: 'text/javascript' },
    '/media/dashboard/dashboard.css': { file: path.join(ROOT, 'media', 'dashboard', 'dashboard.css'), type: 'text/css' },
    '/media/dashboard/codicons/codicon.css': { file: path.join(ROOT, 'media', 'dashboard', 'codicons', 'codicon.css'), type: 'text/css' },
    '/media/dashboard/codicons/codicon.ttf': { file: path.join(ROOT, 'media', 'dashboard', 'codicons', 'codicon.ttf'), type: 'font/ttf' },
  };
  let origin = '';
  const server = http.createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', origin).pathname;
    if (pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(
        dashboardPageHtml({
          cspSource: origin,
          nonce,
          scriptUri: `${origin}/dist/webview/dashboard.js`,
          styleUri: `${origin}/media/dashboard/dashboard.css`,
          codiconUri: `${origin}/media/dashboard/codicons/codicon.css`,
        }),
      );
      return;
    }
    const entry = files[pathname];
    if (pathname === '/favicon.ico') {
      response.writeHead(204).end(); // the browser asks on its own; a 404 would log a console error
      return;
    }
    if (!entry) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': entry.type });
    fs.createReadStream(entry.file).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/`,
    origin,
    nonce,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Dark-theme values of the VS Code variables the stylesheet uses (the real webview injects them). */
export const DARK_THEME: Record<string, string> = {
  '--vscode-foreground': '#cccccc',
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-font-family': 'system-ui, sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-editor-font-family': 'monospace',
  '--vscode-widget-border': '#313131',
  '--vscode-badge-background': '#616161',
  '--vscode-badge-foreground': '#f8f8f8',
  '--vscode-button-background': '#0078d4',
  '--vscode-button-foreground': '#ffffff',
  '--vscode-button-hoverBackground': '#026ec1',
  '--vscode-button-secondaryBackground': '#313131',
  '--vscode-button-secondaryForeground': '#cccccc',
  '--vscode-button-secondaryHoverBackground': '#3c3c3c',
  '--vscode-dropdown-background': '#313131',
  '--vscode-dropdown-foreground': '#cccccc',
  '--vscode-dropdown-border': '#3c3c3c',
  '--vscode-focusBorder': '#0078d4',
  '--vscode-errorForeground': '#f85149',
  '--vscode-list-hoverBackground': '#2a2d2e',
  '--vscode-textBlockQuote-background': '#2b2b2b',
  '--vscode-charts-foreground': '#cccccc',
  '--vscode-charts-lines': '#cccccc80',
  '--vscode-charts-red': '#f14c4c',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-purple': '#b180d7',
};

/** Light-theme values (VS Code's Light Modern) of the same variables. */
export const LIGHT_THEME: Record<string, string> = {
  ...DARK_THEME,
  '--vscode-foreground': '#3b3b3b',
  '--vscode-editor-background': '#ffffff',
  '--vscode-descriptionForeground': '#717171',
  '--vscode-widget-border': '#e5e5e5',
  '--vscode-badge-background': '#cccccc',
  '--vscode-badge-foreground': '#3b3b3b',
  '--vscode-button-secondaryBackground': '#e5e5e5',
  '--vscode-button-secondaryForeground': '#3b3b3b',
  '--vscode-button-secondaryHoverBackground': '#cccccc',
  '--vscode-dropdown-background': '#ffffff',
  '--vscode-dropdown-foreground': '#3b3b3b',
  '--vscode-dropdown-border': '#cecece',
  '--vscode-list-hoverBackground': '#f2f2f2',
  '--vscode-textBlockQuote-background': '#f8f8f8',
  '--vscode-charts-foreground': '#616161',
  '--vscode-charts-lines': '#61616180',
  '--vscode-charts-red': '#e51400',
  '--vscode-charts-blue': '#1a85ff',
  '--vscode-charts-yellow': '#bf8803',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#388a34',
  '--vscode-charts-purple': '#652d90',
};

export interface RunFixture {
  update: DashboardUpdate;
  deadTaskId: string;
  deadTitle: string;
  attempts: number;
  cleanup(): void;
}

/**
 * A real board that ran a few minutes ago with three agents: eight tasks done, one retried, one
 * dead; resource samples from three agents. Timestamps end now so the default 10-minute window
 * shows all of it.
 */
export async function runFixture(): Promise<RunFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-dashboard-page-'));
  const end = Date.now();
  const clock = { now: end - 6 * 60_000 };
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), now: () => clock.now, random: () => 0.5, durable: false, excludeFromGit: false, retry: { baseMs: 1_000, jitter: 0 } });
  const start = clock.now;
  board.postMany(Array.from({ length: 8 }, (_, i) => ({ title: `Fix lint warnings in module ${i + 1}` })));
  const dead = board.post({ title: 'Migrate <legacy> config', maxAttempts: 2 });
  const agents = ['agent-1', 'agent-2', 'agent-3'];
  let attempts = 0;
  for (let round = 0; round < 4; round++) {
    const claims = agents.map((agent) => board.claim({ agent })).filter((claim) => claim !== undefined);
    clock.now += 40_000;
    for (const claim of claims) {
      attempts++;
      if (claim.task.id === dead.id) board.fail(claim, 'TypeError: cannot read properties of undefined (reading "plugins")');
      else board.complete(claim, { summary: 'ok' });
      clock.now += 3_000;
    }
  }
  const metrics = (await collectBoardMetrics(over(board), {}, clock.now));
  for (let t = start; t <= clock.now; t += 5_000) {
    const phase = (t - start) / 60_000;
    metrics.addPoolStats(poolStats(agents, phase), t);
  }
  const snapshot = metrics.snapshot(clock.now);
  const counts = board.stats().counts;
  board.close();
  return {
    update: {
      board: { root: board.root, counts },
      pool: { running: true, mode: 'pool', busy: 2, total: 3, maxAgents: 4, agents: agents.map((id) => ({ id, state: 'busy', cpuPercent: 50, rssBytes: 200e6 })) },
      metrics: snapshot,
    },
    deadTaskId: dead.id,
    deadTitle: dead.title,
    attempts,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function poolStats(agents: string[], phase: number): PoolStats {
  return {
    hostPid: process.pid, boardRoot: '', mode: 'pool', running: true, minAgents: 0, maxAgents: 4, busy: agents.length, idle: 0, total: agents.length,
    agents: agents.map((id, i) => ({
      id, state: 'busy', tasksDone: 0, tasksFailed: 0, startedAt: 0,
      cpuPercent: 40 + 35 * Math.sin(phase * 2 + i) + i * 10,
      rssBytes: (180 + 60 * Math.sin(phase + i * 1.3) + i * 40) * 2 ** 20,
    })),
    tasksDone: 0, tasksFailed: 0, busyMs: 0, startedAt: 0, limiters: [],
    system: { cpuPercent: 60, totalMemBytes: 8 * 2 ** 30, availableMemBytes: 5 * 2 ** 30 },
  };
}
