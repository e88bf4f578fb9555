// `swarm post` / `map` / `post --jsonl` on a shared (Redis) board take one snapshot of the poster's
// working state for the batch, store its bundle once, and record the same typed source on each
// task; a runner imports exactly that commit. Faults post nothing. A file board is unchanged.
//   node scripts/run-unit-tests.js test/unit/remote/post.test.ts
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { openBoard } from '../../../src/core/board/open';
import type { Board, Task } from '../../../src/core/board';
import { importSnapshot } from '../../../src/core/remote';
import { descriptorOf, SNAPSHOT_ARTIFACT } from '../../../src/core/remote/post';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createSwarmMcpServer } from '../../../src/mcp/server';
import { runSwarm, type SwarmRun, succeeded } from '../patch/helpers';
import { git } from '../worktree/helpers';
import { addLocalChanges, binary, makeWorld, redisWorlds, treeFiles, type World } from './machines';

const { server, worlds, boards } = redisWorlds();

function world(): World {
  const made = makeWorld();
  worlds.push(made);
  return made;
}

async function board(url: string): Promise<Board> {
  const opened = await openBoard(url);
  boards.push(opened);
  return opened;
}

/** Everything a post must leave alone: every file's bytes and the index. */
function fingerprint(repo: string): string {
  const status = git(repo, ['status', '--porcelain=v2', '--untracked-files=all', '--ignored']);
  const index = fs.readFileSync(path.join(repo, '.git', 'index')).toString('hex');
  return `${status}\n${index}`;
}

interface McpCall {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

/** A real MCP client talking to the server over the SDK's in-memory transport pair. */
async function mcpClient(shared: Board, workspaceRoot: string): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createSwarmMcpServer({ board: shared, workspaceRoot }).connect(serverSide);
  const client = new Client({ name: 'remote-test', version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

function refusedWithOneLine(run: SwarmRun, code: number, message: RegExp): void {
  assert.equal(run.code, code, `exit ${run.code}: ${run.stderr}`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${run.stderr}`);
  assert.match(lines[0], message);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}

describe('post-time snapshot on a shared board', { timeout: 300_000 }, () => {
  it('post --jsonl takes one snapshot for the batch with the working state, tree and index untouched, and a runner imports the identical commit', async () => {
    const w = world();
    addLocalChanges(w);
    const url = server().url(0, 'post1');
    const lines = [{ title: 'one', files: ['notes/todo.md'] }, { title: 'two', files: ['src/a.txt', '.env', 'debug.log'] }].map((line) => JSON.stringify(line)).join('\n');
    fs.writeFileSync(path.join(w.dir, 'tasks.jsonl'), lines);
    const before = fingerprint(w.dev);
    const run = runSwarm(w.dev, ['--board', url, 'post', '--jsonl', path.join(w.dir, 'tasks.jsonl'), '--json']);
    const ids = JSON.parse(succeeded(run, 'post')) as string[];
    assert.equal(fingerprint(w.dev), before, 'the post changed the working tree or the index');
    assert.match(run.stderr, /Not sent to runners: .*\.env \(on the include list\).*debug\.log \(ignored by git\)/);

    const shared = await board(url);
    const tasks = (await Promise.all(ids.map((id) => shared.get(id)))) as Task[];
    const [first, second] = tasks;
    assert.ok(first.source && second.source, 'every task has a source');
    assert.deepEqual(first.source, second.source, 'one snapshot for the batch');
    const source = first.source;
    assert.equal(source.repository, `file://${w.origin}`);
    assert.equal(source.url, w.origin);
    assert.equal(source.bundle, 'thin');
    assert.equal(source.base, git(w.dev, ['rev-parse', 'origin/main']));
    assert.deepEqual(source.artifact, { taskId: source.snapshotId, name: SNAPSHOT_ARTIFACT });
    // The snapshot holds the unpushed commit, the staged and unstaged edits and the named untracked file.
    const files = treeFiles(w.dev, source.snapshot);
    assert.ok(files['notes/todo.md'], 'the named untracked file travels');
    assert.equal(files['.env'], undefined, 'secrets stay home');
    assert.equal(files['debug.log'], undefined, 'ignored files stay home');
    assert.equal(git(w.dev, ['show', `${source.snapshot}:README.md`]), '# demo (unstaged)');
    assert.equal(git(w.dev, ['show', `${source.snapshot}:src/a.txt`]), 'alpha\nbeta (staged)\ngamma');
    assert.equal(git(w.dev, ['show', `${source.snapshot}:src/b.txt`]), 'one\ntwo (unpushed)\nthree');
    assert.equal(git(w.dev, ['rev-parse', `refs/swarm-base/${source.snapshotId}`]), source.snapshot, 'the poster keeps the snapshot reachable');
    assert.match(succeeded(runSwarm(w.dev, ['--board', url, 'show', first.id]), 'show'), new RegExp(`starts at: snapshot ${source.snapshot.slice(0, 12)} of file://.*origin\\.git, thin bundle of \\d`));

    // Stored once, under the snapshot's id; a runner with only a cache folder gets the same commit.
    const bundle = await shared.getArtifact(source.snapshotId, SNAPSHOT_ARTIFACT);
    assert.equal(bundle?.length, source.bundleBytes);
    for (const task of tasks) assert.deepEqual(await shared.listArtifacts(task.id), [], 'no copy per task');
    const imported = await importSnapshot(descriptorOf(source), bundle, { reposDir: path.join(w.dir, 'runner-cache'), allowLocalUrls: true });
    assert.equal(imported.commit, source.snapshot);
    assert.deepEqual(treeFiles(imported.gitDir, imported.commit), files);
  });

  it('map gives every child the same source and the waiting parent none', async () => {
    const w = world();
    addLocalChanges(w);
    const url = server().url(0, 'post2');
    const children = ['a', 'b', 'c'].map((name) => JSON.stringify({ title: `child ${name}`, files: [`src/${name}.txt`] })).join('\n');
    fs.writeFileSync(path.join(w.dir, 'children.jsonl'), children);
    const posted = JSON.parse(succeeded(runSwarm(w.dev, ['--board', url, 'map', 'parent', '--jsonl', path.join(w.dir, 'children.jsonl'), '--json']), 'map')) as { id: string; childIds: string[] };
    const shared = await board(url);
    const parent = (await shared.get(posted.id)) as Task;
    assert.equal(parent.source, undefined);
    const sources = await Promise.all(posted.childIds.map(async (id) => ((await shared.get(id)) as Task).source));
    assert.ok(sources[0]);
    for (const source of sources) assert.deepEqual(source, sources[0]);
    // A post with one title works the same way.
    const single = succeeded(runSwarm(w.dev, ['--board', url, 'post', 'single', '--files', 'src/a.txt']), 'post').trim();
    const task = (await shared.get(single)) as Task;
    assert.equal(git(w.dev, ['rev-parse', `${task.source?.snapshot}^{tree}`]), git(w.dev, ['rev-parse', `${sources[0]?.snapshot}^{tree}`]), 'the same working state gives the same files');
    assert.notEqual(task.source?.snapshotId, sources[0]?.snapshotId, 'each post stores its own bundle');
  });

  it('a snapshot over the artifact cap is refused in one line that says to push or raise the cap, and nothing is posted', async () => {
    const w = world();
    // No remote: the whole history must travel, and it is bigger than the 8 MB cap.
    git(w.dev, ['remote', 'remove', 'origin']);
    w.write(w.dev, 'big.bin', binary('big', 9 * 1024 * 1024));
    git(w.dev, ['add', 'big.bin']);
    git(w.dev, ['commit', '-q', '-m', 'big']);
    const url = server().url(0, 'post3');
    const run = runSwarm(w.dev, ['--board', url, 'post', 'too big']);
    refusedWithOneLine(run, 2, /Nothing was posted: .*over the 8\.0 MB cap: push your branch .*or raise the cap/);
    const shared = await board(url);
    assert.equal((await shared.list()).total, 0);
  });

  it('with an unknown remote or a hand-written source: one line, nothing posted; outside git: posted without a snapshot, and said', async () => {
    const w = world();
    const url = server().url(0, 'post4');
    const outside = path.join(w.dir, 'not-a-repo');
    fs.mkdirSync(outside);
    const plain = runSwarm(outside, ['--board', url, 'post', 'a command task']);
    const plainId = succeeded(plain, 'post outside git').trim();
    assert.match(plain.stderr, /not in a git repository, so the tasks carry no snapshot; runners start them from their own clone/);
    refusedWithOneLine(runSwarm(w.dev, ['--board', url, 'post', 'x', '--remote', 'upstream']), 2, /Nothing was posted: .*no remote named "upstream"/);
    fs.writeFileSync(path.join(w.dir, 'forged.jsonl'), `${JSON.stringify({ title: 'forged', source: { repository: 'x', prefix: '', snapshot: 'a'.repeat(40), snapshotId: 'abc', bundle: 'none', bundleBytes: 0 } })}\n`);
    refusedWithOneLine(runSwarm(w.dev, ['--board', url, 'post', '--jsonl', path.join(w.dir, 'forged.jsonl')]), 2, /unknown field "source"/);
    const shared = await board(url);
    assert.deepEqual((await shared.list()).tasks.map((task) => [task.id, task.source]), [[plainId, undefined]], 'only the task posted outside git, without a source');
  });

  it('the source field is typed and checked by both boards, and read back whole', async () => {
    const w = world();
    const source = { repository: 'github.com/a/b', url: 'https://github.com/a/b.git', prefix: 'pkg', base: 'b'.repeat(40), snapshot: 'a'.repeat(40), snapshotId: 'snap.x1', bundle: 'thin' as const, bundleBytes: 10, bundleSha256: 'c'.repeat(64), artifact: { taskId: 'snap.x1', name: SNAPSHOT_ARTIFACT } };
    for (const location of [path.join(w.dir, 'typed-board'), server().url(0, 'typed')]) {
      const opened = await board(location);
      const posted = await opened.post({ title: 'typed', source });
      assert.deepEqual((await opened.get(posted.id))?.source, source, location);
      assert.deepEqual((await opened.list()).tasks[0].source, source, location);
      for (const bad of [{ ...source, snapshot: 'HEAD' }, { ...source, prefix: '../up' }, { ...source, url: '--upload-pack=evil' }, { ...source, extra: 1 }]) {
        await assert.rejects(opened.post({ title: 'bad', source: bad }), /Invalid task: source/, `${location}: ${JSON.stringify(bad)}`);
      }
    }
  });

  it('post --requires records the labels a runner needs; a bad label is refused', async () => {
    const w = world();
    const url = server().url(0, 'labels');
    const id = succeeded(runSwarm(w.dev, ['--board', url, 'post', 'gpu task', '--requires', 'gpu,linux,gpu']), 'post').trim();
    const shared = await board(url);
    assert.deepEqual((await shared.get(id))?.requires, ['gpu', 'linux']);
    assert.match(succeeded(runSwarm(w.dev, ['--board', url, 'show', id]), 'show'), /requires: {2}gpu, linux \(runner labels\)/);
    refusedWithOneLine(runSwarm(w.dev, ['--board', url, 'post', 'bad', '--requires', 'gpu,has space']), 2, /requires\.1 is not a label/);
    assert.equal((await shared.list()).total, 1);
  });

  it('the MCP post tools go the same way: post_task and map_tasks carry the source and store the bundle; over the cap nothing is posted', async () => {
    const w = world();
    addLocalChanges(w);
    const shared = await board(server().url(0, 'mcp'));
    const before = fingerprint(w.dev);
    const client = await mcpClient(shared, w.dev);
    const single = (await client.callTool({ name: 'post_task', arguments: { title: 'from mcp', files: ['notes/todo.md'] } })) as McpCall;
    assert.ok(!single.isError, JSON.stringify(single.content));
    const task = (await shared.get((single.structuredContent?.task as { id: string }).id)) as Task;
    assert.ok(task.source, 'post_task gives the task a source');
    assert.equal(task.source.bundle, 'thin');
    assert.equal(task.source.base, git(w.dev, ['rev-parse', 'origin/main']));
    assert.deepEqual(task.source.artifact, { taskId: task.source.snapshotId, name: SNAPSHOT_ARTIFACT });
    const bundle = await shared.getArtifact(task.source.snapshotId, SNAPSHOT_ARTIFACT);
    assert.equal(bundle?.length, task.source.bundleBytes, 'the bundle is stored as an artifact');
    assert.ok(treeFiles(w.dev, task.source.snapshot)['notes/todo.md'], 'the named untracked file travels');
    assert.equal(fingerprint(w.dev), before, 'the post changed the working tree or the index');

    const mapped = (await client.callTool({ name: 'map_tasks', arguments: { title: 'fan out', files: ['src/a.txt', 'src/b.txt'] } })) as McpCall;
    assert.ok(!mapped.isError, JSON.stringify(mapped.content));
    const parent = (await shared.get((mapped.structuredContent?.parent as { id: string }).id)) as Task;
    assert.equal(parent.source, undefined, 'the waiting parent runs nothing');
    const children = await Promise.all((mapped.structuredContent?.childIds as string[]).map(async (id) => ((await shared.get(id)) as Task).source));
    assert.ok(children[0]?.artifact, 'map children carry the source');
    assert.deepEqual(children[1], children[0], 'one snapshot for the batch');
    assert.notEqual(children[0].snapshotId, task.source.snapshotId);
    await client.close();

    // The same refusal as `swarm post`: a snapshot over the cap posts nothing.
    const big = world();
    git(big.dev, ['remote', 'remove', 'origin']);
    big.write(big.dev, 'big.bin', binary('big', 9 * 1024 * 1024));
    git(big.dev, ['add', 'big.bin']);
    git(big.dev, ['commit', '-q', '-m', 'big']);
    const bigBoard = await board(server().url(0, 'mcp-big'));
    const bigClient = await mcpClient(bigBoard, big.dev);
    const refused = (await bigClient.callTool({ name: 'post_task', arguments: { title: 'too big' } })) as McpCall;
    assert.equal(refused.isError, true);
    assert.match(refused.content[0].text ?? '', /^Nothing was posted: .*over the 8\.0 MB cap: push your branch .*or raise the cap/);
    assert.equal((await bigBoard.list()).total, 0);
    await bigClient.close();
  });

  it('a file board keeps today\'s behaviour: no snapshot at post, no source', async () => {
    const w = world();
    addLocalChanges(w);
    const boardDir = path.join(w.dir, 'board');
    const id = succeeded(runSwarm(w.dev, ['--board', boardDir, 'post', 'local']), 'post').trim();
    const local = await board(boardDir);
    assert.equal(((await local.get(id)) as Task).source, undefined);
    assert.equal(git(w.dev, ['for-each-ref', 'refs/swarm-base/']), '');
    refusedWithOneLine(runSwarm(w.dev, ['--board', boardDir, 'post', 'x', '--remote', 'origin']), 2, /--remote only applies to a shared/);
  });
});
