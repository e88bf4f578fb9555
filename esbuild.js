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
  // `swarm` and the agent process start in a small launcher that loads their bundle with a code
  // cache (src/core/launch/codeCache.ts); the paths others start (dist/cli.js, dist/agent.js) stay.
  { in: 'src/cli/launch.ts', out: 'cli', platform: 'node', banner: '#!/usr/bin/env node' },
  { in: 'src/cli/main.ts', out: 'cli-main', platform: 'node' },
  { in: 'src/agent/launch.ts', out: 'agent', platform: 'node' },
  { in: 'src/agent/main.ts', out: 'agent-main', platform: 'node' },
  // The file board's engine in a worker thread (FileBoard with thread: 'worker'), beside the bundles that start it.
  { in: 'src/core/board/fileWorker.ts', out: 'boardWorker', platform: 'node' },
  { in: 'src/webview/dashboard/main.ts', out: 'webview/dashboard', platform: 'browser', format: 'iife' },
];

// Packages big enough to slow every start that only some runs need: each group becomes its own
// bundle in dist/ (one copy of each package, so the group's packages share their classes), and the
// Node bundles require it the first time a module that imports one of them runs. A module reached
// only through `await import()` runs on first use, so a file-board agent never loads BullMQ
// (1.3 MB of its 2.7 MB bundle) and `swarm --version` parses a quarter of the code.
const vendorGroups = [
  { out: 'redisDeps', specifiers: ['bullmq', 'bullmq/dist/cjs/version', 'bullmq/dist/cjs/scripts/index', 'ioredis'] },
  // `swarm mcp` alone: the MCP SDK with its JSON-schema validator (ajv) and its own zod.
  { out: 'mcpDeps', specifiers: ['@modelcontextprotocol/sdk/server/mcp.js', '@modelcontextprotocol/sdk/server/stdio.js'] },
];

/** The version `swarm --version` and the MCP server report. */
const version = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8')).version;

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

/** One module per vendor group that re-exports each of its packages under the name vendorExport gives. */
function vendorEntryText(group) {
  return group.specifiers.map((specifier, index) => `export * as ${vendorExport(index)} from ${JSON.stringify(specifier)};`).join('\n');
}

function vendorExport(index) {
  return `m${index}`;
}

/**
 * In a Node bundle, an import of a grouped package becomes a small module that requires the group's
 * bundle at run time (external, beside the bundle) and hands on the package's part of it.
 */
const vendorSplitPlugin = {
  name: 'vendor-split',
  setup(build) {
    const bySpecifier = new Map();
    for (const group of vendorGroups) group.specifiers.forEach((specifier, index) => bySpecifier.set(specifier, { group, index }));
    const filter = new RegExp(`^(${[...bySpecifier.keys()].map((specifier) => specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'vendor-split' }));
    build.onLoad({ filter: /.*/, namespace: 'vendor-split' }, (args) => {
      const { group, index } = bySpecifier.get(args.path);
      return { contents: `module.exports = require(${JSON.stringify(`./${group.out}.js`)}).${vendorExport(index)};`, loader: 'js', resolveDir: __dirname };
    });
    // The group's bundle itself is resolved at run time, beside the bundle that requires it.
    build.onResolve({ filter: /^\.\/[A-Za-z]+Deps\.js$/, namespace: 'vendor-split' }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * Node's own modules imported whole (`import * as fs from 'fs'`, `import fs from 'node:fs'`) become
 * `import fs = require('fs')` before esbuild reads a source file: esbuild would otherwise wrap each
 * such import in `__toESM`, a copy of every property of the module as a getter, once per importing
 * file (about 190 copies of fs, path, os and crypto at every start of `swarm` and of every agent
 * process, about 10 ms). For a built-in module the namespace, the default export and the module
 * object hold the same functions. Lines are kept, so source maps stay right.
 */
const builtinModules = new Set(require('module').builtinModules);
const WHOLE_MODULE_IMPORT = /^import (?:\* as )?([A-Za-z_$][\w$]*) from '((?:node:)?[a-z_/]+)';$/gm;

function requireBuiltinsWhole(source) {
  return source.replace(WHOLE_MODULE_IMPORT, (line, name, specifier) => (builtinModules.has(specifier.replace(/^node:/, '')) ? `import ${name} = require('${specifier}');` : line));
}

const builtinImportPlugin = {
  name: 'builtin-import',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => ({ contents: requireBuiltinsWhole(await fs.promises.readFile(args.path, 'utf8')), loader: 'ts' }));
  },
};

/** Build options shared by every bundle. */
function baseOptions() {
  return {
    bundle: true,
    outdir: 'dist',
    // jsonc-parser's "main" is a UMD build whose dynamic require()s esbuild cannot follow; its ESM build bundles.
    alias: { 'jsonc-parser': './node_modules/jsonc-parser/lib/esm/main.js' },
    sourcemap: !production,
    minify: production,
    logLevel: watch ? 'silent' : 'warning',
    define: { SWARM_VERSION: JSON.stringify(version) },
  };
}

function vendorContext(group) {
  return esbuild.context({
    ...baseOptions(),
    stdin: { contents: vendorEntryText(group), resolveDir: __dirname, sourcefile: `${group.out}.js` },
    outfile: `dist/${group.out}.js`,
    outdir: undefined,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    plugins: watch ? [problemMatcherPlugin] : [],
  });
}

async function main() {
  assertEntriesExist();
  const contexts = await Promise.all([
    ...vendorGroups.map(vendorContext),
    ...entries.map((entry) =>
      esbuild.context({
        ...baseOptions(),
        entryPoints: { [entry.out]: entry.in },
        format: entry.format ?? 'cjs',
        platform: entry.platform,
        target: entry.platform === 'browser' ? 'es2022' : 'node20',
        external: entry.external ?? [],
        banner: entry.banner ? { js: entry.banner } : undefined,
        // The browser bundle never reaches a grouped package (it would fail to resolve the group there).
        plugins: [...(entry.platform === 'node' ? [vendorSplitPlugin, builtinImportPlugin] : []), ...(watch ? [problemMatcherPlugin] : [])],
      }),
    ),
  ]);
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
