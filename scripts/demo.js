#!/usr/bin/env node
// The quick start's main job: copy examples/sample-repo into a temporary git repository, leave an
// uncommitted edit in it (agents must see the user's working state), post one task per file as a
// map task, run a pool of 4 agents in git worktrees with a codemod executor and a verify command,
// then print the results, their diffs, and apply them to the repository.
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
const agents = process.env.SWARM_DEMO_AGENTS || '4';

function swarm(args, options = {}) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8', stdio: options.inherit ? 'inherit' : 'pipe', input: options.input });
  if (result.status !== 0) {
    if (!options.inherit) process.stderr.write(result.stdout + result.stderr);
    throw new Error(`swarm ${args.join(' ')} exited with ${result.status}`);
  }
  return result.stdout;
}

function git(args) {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
}

function heading(text) {
  console.log(`\n== ${text}`);
}

const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-sample-'));
fs.cpSync(path.join(root, 'examples', 'sample-repo'), repo, { recursive: true });
git(['init', '-q', '-b', 'main']);
git(['add', '.']);
git(['-c', 'user.name=Swarm Demo', '-c', 'user.email=demo@example.invalid', 'commit', '-q', '-m', 'Sample repository']);
// An edit the user has not committed: the agents' worktrees start from it.
fs.appendFileSync(path.join(repo, 'src', 'math.js'), '// Uncommitted note: agents see this line.\n');

heading(`Sample repository: ${repo}`);
const files = fs.readdirSync(path.join(repo, 'src')).filter((name) => name.endsWith('.js')).map((name) => `src/${name}`);
const children = files.map((file) => JSON.stringify({ title: `Modernize ${file}`, type: 'fix', prompt: `Use let/const and strict equality in ${file}.`, files: [file] })).join('\n');
const parent = JSON.parse(swarm(['map', 'Modernize the sample repository', '--jsonl', '-', '--json'], { input: children }));
console.log(`Posted map task ${parent.id} with ${files.length} children, one per file.`);

heading(`Running the swarm with ${agents} agents`);
swarm(['run', '--agents', agents, '--exec', 'node tools/modernize.js {files}', '--verify', 'node test/run.js', '--until-empty'], { inherit: true });

heading('Results');
swarm(['list'], { inherit: true });

const done = JSON.parse(swarm(['list', '--status', 'done', '--json'])).filter((task) => task.parentId);
for (const task of done) {
  heading(`Diff of ${task.id} (${task.title})`);
  swarm(['diff', task.id], { inherit: true });
}

heading('Applying every result to the sample repository');
for (const task of done) swarm(['apply', task.id], { inherit: true });
process.stdout.write(git(['diff', '--stat']));
const check = spawnSync(process.execPath, ['test/run.js'], { cwd: repo, encoding: 'utf8' });
console.log(check.status === 0 ? 'The sample tests pass on the applied result.' : `The sample tests fail:\n${check.stderr}`);
console.log(`\nThe repository stays at ${repo} for you to look at (git diff). Remove it when done.`);
