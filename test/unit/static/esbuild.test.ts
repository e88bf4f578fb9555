// esbuild.js, run in a scratch copy of the repository layout with tiny entry points: a missing
// entry stops the build with one line naming it, and `vscode` is left external only in the
// extension bundle (the CLI, agent and webview bundles refuse it); BullMQ and ioredis live in their
// own bundle, loaded only when code that imports them runs; dist/cli.js and dist/agent.js are the
// launchers that load their bundles with a code cache; Node's own modules are required as they are.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..', '..');
const scratches: string[] = [];

const ENTRY_TEXT: Record<string, string> = {
  'src/extension/extension.ts': "import * as vscode from 'vscode';\nexport function activate(): void { void vscode.window.showInformationMessage('hi'); }\n",
  'src/cli/main.ts': "console.log('cli');\n",
  'src/agent/main.ts': "console.log('agent');\n",
  'src/webview/dashboard/main.ts': "document.title = 'dashboard';\n",
  'src/core/board/fileWorker.ts': "console.log('board worker');\n",
};

/** The launchers are real: the scratch build bundles them as the repository does. */
const LAUNCH_FILES = ['src/cli/launch.ts', 'src/agent/launch.ts', 'src/core/launch/codeCache.ts'];

/** A scratch folder with esbuild.js, node_modules (linked), the launchers and the given entry files. */
function scratchWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-esbuild-'));
  scratches.push(dir);
  for (const file of ['esbuild.js', 'package.json', ...LAUNCH_FILES]) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(dir, file));
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

function build(dir: string): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, ['esbuild.js'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stderr: result.stderr };
}

describe('esbuild.js', () => {
  afterEach(() => {
    for (const dir of scratches.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds every entry, leaving vscode to the host in the extension bundle', () => {
    const dir = scratchWith(ENTRY_TEXT);
    const result = build(dir);
    assert.equal(result.status, 0, result.stderr);
    for (const out of ['extension.js', 'cli.js', 'cli-main.js', 'agent.js', 'agent-main.js', 'boardWorker.js', 'webview/dashboard.js', 'redisDeps.js']) {
      assert.ok(fs.existsSync(path.join(dir, 'dist', out)), `dist/${out} was not built`);
    }
    assert.match(fs.readFileSync(path.join(dir, 'dist', 'extension.js'), 'utf8'), /require\("vscode"\)/);
  });

  it('leaves BullMQ and ioredis out of the agent bundle and loads them only when a module that imports them runs', () => {
    const loadedProbe = "const redisDepsLoaded = (): boolean => Object.keys(require.cache).some((file) => file.endsWith('redisDeps.js'));\n";
    const dir = scratchWith({
      ...ENTRY_TEXT,
      'src/agent/main.ts': `${loadedProbe}console.log(\`at start: \${redisDepsLoaded()}\`);\nif (process.argv[2] === 'redis') void import('./redis').then((redis) => console.log(\`after import: \${redisDepsLoaded()} \${redis.kinds()}\`));\n`,
      'src/agent/redis.ts': "import { Redis } from 'ioredis';\nimport { Queue } from 'bullmq';\nexport function kinds(): string { return `${typeof Redis} ${typeof Queue}`; }\n",
    });
    const result = build(dir);
    assert.equal(result.status, 0, result.stderr);
    const agent = path.join(dir, 'dist', 'agent.js');
    const agentBundle = path.join(dir, 'dist', 'agent-main.js');
    assert.ok(fs.statSync(agentBundle).size < 100_000, `dist/agent-main.js is ${fs.statSync(agentBundle).size} bytes: BullMQ was bundled into it`);
    const run = (args: string[]): string => spawnSync(process.execPath, [agent, ...args], { encoding: 'utf8', timeout: 60_000 }).stdout;
    assert.equal(run([]), 'at start: false\n');
    assert.equal(run(['redis']), 'at start: false\nafter import: true function function\n');
  });

  it("requires Node's own modules as they are, without esbuild's per-file copy of them (__toESM)", () => {
    const dir = scratchWith({
      ...ENTRY_TEXT,
      'src/cli/main.ts': "import * as fs from 'fs';\nimport path from 'node:path';\nimport * as os from 'node:os';\nimport { part } from './part';\nconsole.log(typeof fs.readFileSync, path.join('a', 'b'), typeof os.tmpdir, part());\n",
      'src/cli/part.ts': "import * as crypto from 'crypto';\nexport function part(): string {\n  return crypto.createHash('sha256').update('x').digest('hex').slice(0, 8);\n}\n",
    });
    const result = build(dir);
    assert.equal(result.status, 0, result.stderr);
    const bundle = fs.readFileSync(path.join(dir, 'dist', 'cli-main.js'), 'utf8');
    assert.doesNotMatch(bundle, /__toESM\(require\("(node:)?(fs|path|os|crypto)"\)/);
    const run = spawnSync(process.execPath, [path.join(dir, 'dist', 'cli.js')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.stdout, `function ${path.join('a', 'b')} function 2d711642\n`, run.stderr);
  });

  it('fails with one line naming a missing entry point', () => {
    const { ['src/agent/main.ts']: _left, ...others } = ENTRY_TEXT;
    const dir = scratchWith(others);
    const result = build(dir);
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /entry point src\/agent\/main\.ts not found/);
    assert.ok(!fs.existsSync(path.join(dir, 'dist')), 'nothing may be built when an entry is missing');
  });

  it('fails when a bundle other than the extension imports vscode', () => {
    const dir = scratchWith({ ...ENTRY_TEXT, 'src/cli/main.ts': "import * as vscode from 'vscode';\nconsole.log(vscode.version);\n" });
    const result = build(dir);
    assert.equal(result.status, 1, 'the CLI bundle must not build with a vscode import');
    assert.match(result.stderr, /Could not resolve "vscode"/);
    assert.match(result.stderr, /src\/cli\/main\.ts/);
  });
});
