// SIGINT/SIGTERM/SIGHUP of a launcher: run every registered cleanup (which kills what the run
// started, by pid), then exit with the conventional code.
const cleanups = new Set<() => Promise<void>>();
let installed = false;
let shuttingDown = false;

/** Registers a cleanup for a signal; returns a function that unregisters it. */
export function onShutdown(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

export function installSignalHandlers(print: (line: string) => void): void {
  if (installed) return;
  installed = true;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const sig of Object.keys(codes) as NodeJS.Signals[]) {
    process.on(sig, () => {
      if (shuttingDown) return;
      shuttingDown = true;
      print(`received ${sig}: stopping everything this run started`);
      const forced = setTimeout(() => process.exit(codes[sig]), 15_000);
      void Promise.all([...cleanups].map((cleanup) => cleanup().catch(() => undefined))).then(() => {
        clearTimeout(forced);
        process.exit(codes[sig]);
      });
    });
  }
}
