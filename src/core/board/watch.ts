// Watching the file board for changes: fs.watch where it works, polling of mtimes where it does not.
import * as fs from 'fs';

/**
 * Calls `onChange` (debounced) whenever one of `watched` (the state folders and the event log)
 * changes: fs.watch on each, with polling of their mtimes as a fallback where watching is
 * unavailable (some network and container file systems deliver no events).
 */
export function watchPaths(watched: string[], onChange: () => void, options: { debounceMs?: number; pollMs?: number } = {}): { dispose(): void } {
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, options.debounceMs ?? 100);
  };
  const watchers: fs.FSWatcher[] = [];
  for (const target of watched) {
    try {
      const watcher = fs.watch(target, fire);
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // Missing or unwatchable: the poll below still sees changes.
    }
  }
  let signature = signatureOf(watched);
  const poll = setInterval(() => {
    const next = signatureOf(watched);
    if (next !== signature) {
      signature = next;
      fire();
    }
  }, options.pollMs ?? 1000);
  return {
    dispose: () => {
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}

function signatureOf(paths: string[]): string {
  return paths
    .map((target) => {
      const stat = fs.statSync(target, { throwIfNoEntry: false });
      return stat ? `${stat.mtimeMs}:${stat.size}` : '-';
    })
    .join('|');
}
