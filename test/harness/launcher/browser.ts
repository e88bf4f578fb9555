// Headless Chromium from Debian, driven by playwright-core (which never downloads a browser here).
// Launched through launchServer so its pid is known and it can be killed by pid if closing fails.
import * as fs from 'fs';
import { Browser, BrowserServer, chromium } from 'playwright-core';
import { ProcessTracker } from './processes';

/** Chromium flags that work as root with no network and no GPU. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
];

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium to use: $SWARM_CHROMIUM, else the first one installed. */
export function findChromium(): string | undefined {
  const named = process.env.SWARM_CHROMIUM;
  if (named) return fs.existsSync(named) ? named : undefined;
  return CANDIDATES.find((candidate) => fs.existsSync(candidate));
}

export interface LaunchedBrowser {
  browser: Browser;
  pid: number | undefined;
  executable: string;
  /** Closes the browser; kills its process if closing takes too long. */
  close(): Promise<void>;
}

export async function launchBrowser(tracker: ProcessTracker, options: { headless?: boolean } = {}): Promise<LaunchedBrowser> {
  const executable = findChromium();
  if (!executable) {
    throw new Error(
      `No Chromium found (looked for ${process.env.SWARM_CHROMIUM ?? CANDIDATES.join(', ')}). ` +
        'Install it with: apt-get install -y chromium   (or set SWARM_CHROMIUM to a Chromium/Chrome binary)',
    );
  }
  const headless = options.headless ?? process.env.SWARM_HEADED !== '1';
  const server: BrowserServer = await chromium.launchServer({
    executablePath: executable,
    headless,
    args: CHROMIUM_ARGS,
    env: tracker.env() as Record<string, string>,
    // The launcher handles signals itself and kills by pid.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const pid = server.process().pid;
  // Playwright starts Chromium detached, as the leader of its own process group.
  tracker.track('chromium', pid, true);
  const browser = await chromium.connect(server.wsEndpoint());
  let closed = false;
  return {
    browser,
    pid,
    executable,
    async close() {
      if (closed) return;
      closed = true;
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
      await Promise.race([browser.close().catch(() => undefined), timeout]);
      await Promise.race([server.close().catch(() => undefined), timeout]);
      await server.kill().catch(() => undefined);
    },
  };
}
