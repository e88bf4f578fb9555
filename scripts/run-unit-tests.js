#!/usr/bin/env node
// Runs every test/unit/**/*.test.ts with Node's own test runner (TypeScript through tsx).
// Extra arguments are passed on, so `npm run test:unit -- --test-name-pattern=claim` works;
// a path argument (a .ts file or a folder) narrows the run to those files.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

// A folder argument narrows the run to the tests under it (without this, `test/unit/redis` would be
// taken for a flag and the whole suite would run).
const isFolder = (arg) => !arg.startsWith('-') && fs.existsSync(arg) && fs.statSync(arg).isDirectory();
const args = process.argv.slice(2);
const named = args.filter((arg) => arg.endsWith('.ts')).concat(args.filter(isFolder).flatMap(findTests).sort());
const flags = args.filter((arg) => !arg.endsWith('.ts') && !isFolder(arg));
const files = named.length > 0 ? named : ['unit', 'conformance', 'attack'].flatMap((dir) => findTests(path.join(__dirname, '..', 'test', dir))).sort();
if (files.length === 0) {
  console.error('No tests found under test/unit, test/conformance or test/attack.');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...flags, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
