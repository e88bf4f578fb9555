#!/usr/bin/env node
// A small codemod standing in for a coding agent: `var` becomes `let`, loose equality becomes
// strict. It edits only the files it is given, like `eslint --fix {files}` would.
const fs = require('fs');

const rewrites = [
  [/\bvar\s+/g, 'let '],
  [/([^=!<>])==([^=])/g, '$1===$2'],
  [/!=([^=])/g, '!==$1'],
];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: modernize.js FILE...');
  process.exit(2);
}
for (const file of files) {
  const before = fs.readFileSync(file, 'utf8');
  const after = rewrites.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), before);
  if (after !== before) fs.writeFileSync(file, after);
  console.log(`${file}: ${after === before ? 'already modern' : 'modernized'}`);
}
