// The layering rules of eslint.config.mjs bite: code placed in the core that imports vscode, two
// core modules that import each other, a webview module that imports the extension, and a worktree
// module that reaches up into the pool are refused; what the rules promise to allow (vscode in the
// extension, a cycle of type-only imports) passes. Probe files are written under src/ because that is where the rules apply.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '..', '..', '..');
const probeDirs: string[] = [];

/** A folder of probe files under `parent` (relative to the repository), removed after the suite. */
function probeDir(parent: string): string {
  const dir = path.join(root, parent, `lint-probe-${process.pid}-${probeDirs.length}`);
  fs.mkdirSync(dir, { recursive: true });
  probeDirs.push(dir);
  return dir;
}

function writeProbe(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Lints one file as saved on disk; returns the rule ids it breaks. */
async function ruleIdsOf(eslint: ESLint, file: string): Promise<string[]> {
  const [result] = await eslint.lintText(fs.readFileSync(file, 'utf8'), { filePath: file });
  return result.messages.map((message) => message.ruleId ?? `fatal: ${message.message}`);
}

/** Probe folders left by a run that was killed: they would break `npm run lint` (one holds a cycle). */
function removeAbandonedProbes(): void {
  for (const parent of ['src/core', 'src/core/worktree', 'src/extension', 'src/webview']) {
    for (const name of fs.readdirSync(path.join(root, parent))) {
      const pid = /^lint-probe-(\d+)-\d+$/.exec(name)?.[1];
      if (pid && !isAlive(Number(pid))) fs.rmSync(path.join(root, parent, name), { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('npm run lint: the layering rules', () => {
  let eslint: ESLint;
  before(() => {
    removeAbandonedProbes();
    eslint = new ESLint({ cwd: root });
  });
  after(() => {
    for (const dir of probeDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a vscode import in src/core/', async () => {
    const file = writeProbe(probeDir('src/core'), 'usesVscode.ts', "import * as vscode from 'vscode';\n\nexport const shown = vscode.window;\n");
    const [result] = await eslint.lintText(fs.readFileSync(file, 'utf8'), { filePath: file });
    const refusal = result.messages.find((message) => message.ruleId === 'no-restricted-imports');
    assert.ok(refusal, `expected no-restricted-imports, got: ${JSON.stringify(result.messages)}`);
    assert.match(refusal.message, /Only the extension layer/);
  });

  it('lets the extension layer import vscode', async () => {
    const file = writeProbe(probeDir('src/extension'), 'usesVscode.ts', "import * as vscode from 'vscode';\n\nexport const shown = vscode.window;\n");
    assert.deepEqual(await ruleIdsOf(eslint, file), []);
  });

  it('refuses two core modules that import each other', async () => {
    const dir = probeDir('src/core');
    const a = writeProbe(dir, 'a.ts', "import { b } from './b';\n\nexport const a = (): number => b() + 1;\n");
    const b = writeProbe(dir, 'b.ts', "import { a } from './a';\n\nexport const b = (): number => (a.length > 0 ? 1 : 0);\n");
    assert.deepEqual(await ruleIdsOf(eslint, a), ['import-x/no-cycle']);
    assert.deepEqual(await ruleIdsOf(eslint, b), ['import-x/no-cycle']);
  });

  it('allows a cycle whose one side imports only types (it is gone at runtime)', async () => {
    const dir = probeDir('src/core');
    const a = writeProbe(dir, 'a.ts', "import type { B } from './b';\n\nexport interface A { b?: B }\nexport const a = (): number => 1;\n");
    const b = writeProbe(dir, 'b.ts', "import { a, type A } from './a';\n\nexport interface B { a?: A }\nexport const b = (): number => a() + 1;\n");
    assert.deepEqual(await ruleIdsOf(eslint, a), []);
    assert.deepEqual(await ruleIdsOf(eslint, b), []);
  });

  it('refuses a webview module that imports the extension layer', async () => {
    const file = writeProbe(probeDir('src/webview'), 'usesExtension.ts', "import { Commands } from '../../extension/commandIds';\n\nexport const id = Commands.start;\n");
    assert.deepEqual(await ruleIdsOf(eslint, file), ['@typescript-eslint/no-restricted-imports']);
  });

  it('refuses a worktree module that imports the pool at runtime, but not its types', async () => {
    const dir = probeDir('src/core/worktree');
    const runtime = writeProbe(dir, 'runtime.ts', "import { AgentPool } from '../../pool/pool';\n\nexport const made = AgentPool.name;\n");
    const typeOnly = writeProbe(dir, 'typeOnly.ts', "import type { TaskIsolation } from '../../pool/isolation';\n\nexport type Made = TaskIsolation;\n");
    assert.deepEqual(await ruleIdsOf(eslint, runtime), ['@typescript-eslint/no-restricted-imports']);
    assert.deepEqual(await ruleIdsOf(eslint, typeOnly), []);
  });
});
