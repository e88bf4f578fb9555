// "rateLimits" in swarm.config.json reach the pool's shared limiter: with three agents and a model
// endpoint limited to one request in flight, the local model server never sees two requests at
// once; without the limit, in the same test, it does. Spawns the built CLI (npm run build first).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { openAiCompletion, startModelServer, wholeFile, type ModelServer, type RecordedRequest } from '../executors/model-server';

const cli = path.join(__dirname, '..', '..', '..', 'dist', 'cli.js');
let server: ModelServer;
const dirs: string[] = [];

before(async () => {
  assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
  server = await startModelServer();
});
after(async () => {
  await server.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The most requests the server had open at one moment. */
function peakInFlight(requests: RecordedRequest[]): number {
  const edges = requests.flatMap((request) => [
    { at: request.at, delta: 1 },
    { at: request.answeredAt ?? Infinity, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (open += edge.delta));
  return peak;
}

async function runWithModel(rateLimits: Record<string, unknown> | undefined): Promise<number> {
  server.reset();
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-ratelimits-')));
  dirs.push(dir);
  const baseUrl = `${server.baseUrl}/v1`;
  const config = {
    executors: { model: { type: 'model', provider: 'openai', model: 'test-model', baseUrl, apiKeyEnv: 'SWARM_TEST_MODEL_KEY' } },
    defaultExecutor: 'model',
    ...(rateLimits ? { rateLimits } : {}),
  };
  fs.writeFileSync(path.join(dir, 'swarm.config.json'), JSON.stringify(config, null, 2));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false });
  for (const n of [1, 2, 3]) {
    fs.writeFileSync(path.join(dir, `f${n}.txt`), 'old\n');
    board.post({ title: `edit f${n}`, prompt: 'make it new', files: [`f${n}.txt`] });
    server.reply({ ...openAiCompletion(wholeFile(`f${n}.txt`, 'new')), delayMs: 700 });
  }
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [cli, 'run', '--until-empty', '--agents', '3', '--min-agents', '3', '--isolation', 'direct'], {
      cwd: dir,
      env: { ...process.env, SWARM_BOARD: '', SWARM_TEST_MODEL_KEY: 'sk-test-0123456789' },
      stdio: 'ignore',
    });
    child.on('close', resolve);
  });
  assert.equal(code, 0, 'swarm run succeeds');
  assert.deepEqual(board.list().map((task) => task.status), ['done', 'done', 'done']);
  assert.equal(server.requests.length, 3);
  board.close();
  return peakInFlight(server.requests);
}

test('rateLimits from swarm.config.json cap the requests in flight across all agents', { timeout: 180_000 }, async () => {
  const unlimited = await runWithModel(undefined);
  assert.ok(unlimited >= 2, `without a limit three agents overlap (peak ${unlimited} in flight)`);
  const limited = await runWithModel({ [`openai:${server.baseUrl}/v1`]: { concurrency: 1 } });
  assert.equal(limited, 1, 'with concurrency 1 the endpoint never sees two requests at once');
});
