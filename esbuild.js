// Bundles the extension, the CLI and the agent entry. `node esbuild.js --watch` rebuilds on change;
// `--production` minifies and leaves source maps out (used by `npm run package`).
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

// Every entry point. Only the extension bundle runs inside VS Code, so only it may leave `vscode`
// to the host; in any other bundle an import of vscode is a layering mistake and fails the build.
const entries = [
  { in: 'src/extension/extension.ts', out: 'extension', platform: 'node', external: ['vscode'] },
  { in: 'src/cli/main.ts', out: 'cli', platform: 'node', banner: '#!/usr/bin/env node' },
  { in: 'src/agent/main.ts', out: 'agent', platform: 'node' },
  // The file board's engine in a worker thread (FileBoard with thread: 'worker'), beside the bundles that start it.
  { in: 'src/core/board/fileWorker.ts', out: 'boardWorker', platform: 'node' },
  { in: 'src/webview/dashboard/main.ts', out: 'webview/dashboard', platform: 'browser', format: 'iife' },
];

/** A missing entry would silently leave its bundle out (or a stale one in dist/): stop instead. */
function assertEntriesExist() {
  const missing = entries.filter((entry) => !fs.existsSync(path.join(__dirname, entry.in))).map((entry) => entry.in);
  if (missing.length === 0) return;
  console.error(`esbuild.js: entry point ${missing.join(', ')} not found; restore it or remove it from the entries in esbuild.js.`);
  process.exit(1);
}

/** Reports build results in the format VS Code's $esbuild-watch problem matcher reads. */
const problemMatcherPlugin = {
  name: 'problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

async function main() {
  assertEntriesExist();
  const contexts = await Promise.all(
    entries.map((entry) =>
      esbuild.context({
        entryPoints: { [entry.out]: entry.in },
        bundle: true,
        format: entry.format ?? 'cjs',
        platform: entry.platform,
        target: entry.platform === 'browser' ? 'es2022' : 'node20',
        outdir: 'dist',
        external: entry.external ?? [],
        // jsonc-parser's "main" is a UMD build whose dynamic require()s esbuild cannot follow; its ESM build bundles.
        alias: { 'jsonc-parser': './node_modules/jsonc-parser/lib/esm/main.js' },
        sourcemap: !production,
        minify: production,
        banner: entry.banner ? { js: entry.banner } : undefined,
        logLevel: watch ? 'silent' : 'warning',
        plugins: watch ? [problemMatcherPlugin] : [],
      }),
    ),
  );
  if (watch) {
    await Promise.all(contexts.map((ctx) => ctx.watch()));
    return;
  }
  await Promise.all(contexts.map((ctx) => ctx.rebuild()));
  await Promise.all(contexts.map((ctx) => ctx.dispose()));
  const cli = path.join(__dirname, 'dist', 'cli.js');
  if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
}

main().catch((error) => {
  // esbuild has already printed each error with its location; say once that the build stopped.
  const count = Array.isArray(error?.errors) ? error.errors.length : 0;
  console.error(count > 0 ? `esbuild.js: the build failed with ${count} error${count === 1 ? '' : 's'} (above).` : `esbuild.js: ${error?.stack ?? error}`);
  process.exit(1);
});
