#!/usr/bin/env node
// Compiles the extension-host test module and mocha suites with esbuild into out/test/ (gitignored):
//   test/harness/host/index.ts           -> out/test/index.js   (the extensionTestsPath module)
//   test/<dir>/<name>.test.ts            -> out/test/<dir>/<name>.test.js, one bundle per suite file
// `vscode` and `mocha` stay external: VS Code provides the first, the repository's node_modules the
// second. Type checking is `npm run typecheck`'s job, not this one's.
//
//   node scripts/vscode/build-tests.js [suite.ts ...]   (default: every test/integration/**/*.test.ts)
'use strict';

const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const TEST_DIR = path.join(ROOT, 'test');
const OUT_DIR = path.join(ROOT, 'out', 'test');
const HOST_ENTRY = path.join(TEST_DIR, 'harness', 'host', 'index.ts');

/** Every *.test.ts under `dir`, sorted. */
function findSuites(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return findSuites(full);
      return entry.name.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}

/** Where the bundle of a suite source lands. */
function outputFor(source) {
  const relative = path.relative(TEST_DIR, path.resolve(source));
  if (relative.startsWith('..')) throw new Error(`suite ${source} is not under test/`);
  return path.join(OUT_DIR, relative.replace(/\.ts$/, '.js'));
}

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['vscode', 'mocha'],
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
};

/**
 * Builds the host module and the given suites (absolute or repository-relative .ts paths).
 * Returns the host module's path and each suite's output path, in the order given.
 */
async function buildTests(suites = findSuites(path.join(TEST_DIR, 'integration'))) {
  const sources = suites.map((suite) => path.resolve(ROOT, suite));
  const host = path.join(OUT_DIR, 'index.js');
  const builds = [{ in: HOST_ENTRY, out: host }, ...sources.map((source) => ({ in: source, out: outputFor(source) }))];
  await Promise.all(builds.map((build) => esbuild.build({ ...common, entryPoints: [build.in], outfile: build.out })));
  return { host, suites: sources.map((source) => ({ source, output: outputFor(source) })) };
}

module.exports = { buildTests, findSuites, outputFor, ROOT, TEST_DIR, OUT_DIR };

if (require.main === module) {
  const args = process.argv.slice(2);
  buildTests(args.length > 0 ? args : undefined).then(
    (result) => console.log(`built ${result.suites.length} suite(s) and ${path.relative(ROOT, result.host)}`),
    (error) => {
      console.error(error.message || error);
      process.exit(1);
    },
  );
}
