// `swarm mcp` over real stdio: the SDK's own Client spawns the built CLI (dist/cli.js; run
// `npm run build` first) against a board in a temporary git repository.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { FileBoard } from '../../../src/core/board';

const CLI = path.join(__dirname, '..', '..', '..', 'dist', 'cli.js');

interface CallResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

let workspace: string;
let boardDir: string;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: workspace, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
}

async function connect(extraArgs: string[] = []): Promise<Client> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, '--board', boardDir, 'mcp', ...extraArgs], cwd: workspace, stderr: 'pipe' });
  const client = new Client({ name: 'swarm-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallResult> {
  return (await client.callTool({ name, arguments: args })) as CallResult;
}

/** Completes a task as an agent would: the patch in the task's artifacts, the result on the board. */
function completeWithPatch(board: FileBoard, taskId: string, patchText: string): void {
  const claim = board.claim({ agent: 'test-agent' });
  assert.equal(claim?.task.id, taskId);
  const dir = board.artifactsDir(taskId);
  fs.mkdirSync(dir, { recursive: true });
  const patchFile = path.join(dir, 'result.patch');
  fs.writeFileSync(patchFile, patchText);
  board.complete(claim, { summary: 'changed a.txt', executor: 'test', durationMs: 1, patchFile, base: git('rev-parse', 'HEAD').trim(), files: [{ path: 'a.txt', status: 'modified', additions: 1, deletions: 1 }] });
}

before(() => {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js exists (run npm run build first)');
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-mcp-'));
  boardDir = path.join(workspace, '.swarm');
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(workspace, 'a.txt'), 'hello\n');
  git('add', 'a.txt');
  git('commit', '-q', '-m', 'init');
  FileBoard.open({ root: boardDir }).close();
});
after(() => fs.rmSync(workspace, { recursive: true, force: true }));

describe('swarm mcp', () => {
  it('lists the tools, and apply_result only with --allow-apply', async () => {
    const client = await connect();
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
      assert.deepEqual(names, ['cancel_task', 'get_result', 'get_status', 'map_tasks', 'post_task']);
    } finally {
      await client.close();
    }
    const allowed = await connect(['--allow-apply']);
    try {
      assert.ok((await allowed.listTools()).tools.some((tool) => tool.name === 'apply_result'));
    } finally {
      await allowed.close();
    }
  });

  it('posts, fans out, reports status and progress, cancels and reads a patch', async () => {
    const client = await connect();
    const board = FileBoard.open({ root: boardDir });
    try {
      const posted = await call(client, 'post_task', { title: 'Change a.txt', prompt: 'say hi', files: ['a.txt'] });
      assert.equal(posted.isError, undefined, JSON.stringify(posted));
      const taskId = (posted.structuredContent?.task as { id: string }).id;
      assert.equal(board.get(taskId)?.prompt, 'say hi', 'the task is on the board the CLI reads');
      assert.match(String(posted.structuredContent?.note), /No agent pool is running/);

      const mapped = await call(client, 'map_tasks', { title: 'Fix all', prompt: 'fix it', files: ['x.ts', 'y.ts'] });
      const parentId = (mapped.structuredContent?.parent as { id: string }).id;
      assert.equal(mapped.structuredContent?.children, 2);
      const children = board.list().filter((task) => task.parentId === parentId);
      assert.deepEqual(children.map((task) => task.files[0]).sort(), ['x.ts', 'y.ts']);
      assert.equal(children[0].prompt, 'fix it');

      const overall = await call(client, 'get_status', {});
      assert.equal((overall.structuredContent?.counts as Record<string, number>).pending, 3);

      const cancelled = await call(client, 'cancel_task', { taskId: children[0].id });
      assert.equal((cancelled.structuredContent?.task as { status: string }).status, 'cancelled');
      const progress = (await call(client, 'get_status', { taskId: parentId })).structuredContent?.progress as { total: number; cancelled: number; percent: number };
      assert.deepEqual([progress.total, progress.cancelled, progress.percent], [2, 1, 0], 'cancelled work is not progress');

      const none = await call(client, 'get_result', { taskId });
      assert.equal(none.structuredContent?.patch, null);
      assert.match(String(none.structuredContent?.reason), /is pending/);

      // Cancel the rest so the next claim takes our task.
      board.cancel(children[1].id);
      completeWithPatch(board, taskId, 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-hello\n+hi\n');
      const result = await call(client, 'get_result', { taskId });
      assert.equal(result.isError, undefined, JSON.stringify(result));
      assert.match(String(result.structuredContent?.patch), /\+hi/);
      assert.deepEqual(result.structuredContent?.stat, { files: 1, additions: 1, deletions: 1 });
      assert.match(String(result.structuredContent?.apply), /swarm apply/);
      assert.equal(fs.readFileSync(path.join(workspace, 'a.txt'), 'utf8'), 'hello\n', 'reading a result never applies it');

      const unknown = await call(client, 'get_status', { taskId: 'nope' });
      assert.equal(unknown.isError, true);
      assert.match(unknown.content[0].text ?? '', /No task nope/);
    } finally {
      board.close();
      await client.close();
    }
  });

  it('refuses unknown arguments (strict schemas) and unsafe files; map_tasks returns the child ids', async () => {
    const client = await connect();
    const board = FileBoard.open({ root: boardDir });
    try {
      const before = board.list().length;
      const typo = await call(client, 'post_task', { title: 'x', file: ['a.txt'] });
      assert.equal(typo.isError, true, 'a misspelt "files" is refused, not dropped');
      assert.match(typo.content[0].text ?? '', /Unrecognized key.*"?file"?/);
      const nested = await call(client, 'map_tasks', { title: 'm', items: [{ title: 'a', file: ['x.ts'] }] });
      assert.equal(nested.isError, true);
      const status = await call(client, 'get_status', { taskId: 'tabc', verbose: true });
      assert.equal(status.isError, true);
      for (const file of ['/etc/passwd', '../up.txt', '.git/config']) {
        const unsafe = await call(client, 'post_task', { title: 'x', files: [file] });
        assert.equal(unsafe.isError, true, file);
        const unsafeMap = await call(client, 'map_tasks', { title: 'm', files: [file] });
        assert.equal(unsafeMap.isError, true, file);
      }
      assert.equal(board.list().length, before, 'nothing was posted');
      const mapped = await call(client, 'map_tasks', { title: 'Fan out', files: ['p.ts', 'q.ts'] });
      assert.equal(mapped.isError, undefined, JSON.stringify(mapped));
      const parentId = (mapped.structuredContent?.parent as { id: string }).id;
      assert.deepEqual(mapped.structuredContent?.childIds, [`${parentId}.0000`, `${parentId}.0001`]);
      for (const childId of mapped.structuredContent?.childIds as string[]) assert.equal(board.get(childId)?.parentId, parentId);
      board.cancel(parentId);
    } finally {
      board.close();
      await client.close();
    }
  });

  it('applies a done task\'s patch when allowed', async () => {
    const board = FileBoard.open({ root: boardDir });
    const client = await connect(['--allow-apply']);
    try {
      const taskId = board.post({ title: 'apply me', files: ['a.txt'], priority: 9999 }).id;
      completeWithPatch(board, taskId, 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-hello\n+applied\n');
      const applied = await call(client, 'apply_result', { taskId });
      assert.equal(applied.isError, undefined, JSON.stringify(applied));
      assert.equal(applied.structuredContent?.status, 'applied');
      assert.equal(fs.readFileSync(path.join(workspace, 'a.txt'), 'utf8'), 'applied\n');
    } finally {
      board.close();
      await client.close();
    }
  });
});
