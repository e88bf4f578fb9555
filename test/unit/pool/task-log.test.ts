// A task's log: kept in memory while small (no file written and read back per task), spilled to its
// file once it grows, stored whole on the board either way.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { FileBoardEngine } from '../../../src/core/board';
import { FileBoard } from '../../../src/core/board/fileBoard';
import { LOG_ARTIFACT } from '../../../src/core/board/interface';
import { CappedLog, LogUpload } from '../../../src/core/pool/taskLog';
import { waitFor } from './helpers';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

function setUp(): { board: FileBoard; taskId: string; logFile: string; stored: () => string | undefined } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-task-log-'));
  const engine = FileBoardEngine.open({ root: path.join(dir, '.swarm'), excludeFromGit: false });
  cleanups.push(() => {
    engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const task = engine.post({ title: 'logged' });
  const artifact = path.join(engine.artifactsDir(task.id), LOG_ARTIFACT);
  const stored = (): string | undefined => (fs.existsSync(artifact) ? fs.readFileSync(artifact, 'utf8') : undefined);
  return { board: FileBoard.over(engine), taskId: task.id, logFile: path.join(dir, 'scratch', task.id, LOG_ARTIFACT), stored };
}

test('a small log is stored on the board from memory: no file of the agent is written for it', async () => {
  const { board, taskId, logFile } = setUp();
  const log = new CappedLog(logFile, 1024 * 1024);
  const upload = new LogUpload(board, taskId, log, undefined);
  log.write('$ true\n');
  log.write('done\n');
  assert.equal(await upload.finish(), true, 'the board holds the whole log');
  assert.equal((await board.getArtifact(taskId, LOG_ARTIFACT))?.toString(), '$ true\ndone\n');
  assert.equal(fs.existsSync(path.dirname(logFile)), false, 'neither the log file nor its folder was made');
});

test('a log that grows past 64 KB goes to its file, and the board gets all of it in order', async () => {
  const { board, taskId, logFile } = setUp();
  const log = new CappedLog(logFile, 1024 * 1024);
  const upload = new LogUpload(board, taskId, log, undefined);
  const lines = Array.from({ length: 3000 }, (_, index) => `line ${index} ${'x'.repeat(40)}\n`);
  for (const line of lines) log.write(line);
  assert.ok(fs.existsSync(logFile), 'the log spilled to its file');
  assert.ok(fs.statSync(logFile).size < log.bytes, 'the latest lines are still in memory');
  assert.equal(await upload.finish(), true);
  assert.equal((await board.getArtifact(taskId, LOG_ARTIFACT))?.toString(), lines.join(''));
});

test('a log is cut off at its cap, in memory and on the board', async () => {
  const { board, taskId, logFile } = setUp();
  const log = new CappedLog(logFile, 100);
  const upload = new LogUpload(board, taskId, log, undefined);
  log.write('a'.repeat(80));
  log.write('b'.repeat(80));
  log.write('never stored');
  await upload.finish();
  const stored = (await board.getArtifact(taskId, LOG_ARTIFACT))?.toString() ?? '';
  assert.equal(stored, `${'a'.repeat(80)}${'b'.repeat(20)}\n[log truncated at 100 bytes]\n`);
});

test('an empty log stores nothing', async () => {
  const { board, taskId, logFile } = setUp();
  const upload = new LogUpload(board, taskId, new CappedLog(logFile, 1024), undefined);
  assert.equal(await upload.finish(), false);
  assert.equal(await board.getArtifact(taskId, LOG_ARTIFACT), undefined);
});

test('a log that grows while the task runs is stored again, each time whole', async () => {
  const { board, taskId, logFile, stored } = setUp();
  const log = new CappedLog(logFile, 1024 * 1024);
  const upload = new LogUpload(board, taskId, log, 20);
  log.write('first\n');
  await waitFor('the first line on the board', () => stored() === 'first\n');
  log.write('second\n');
  await waitFor('both lines on the board', () => stored() === 'first\nsecond\n');
  assert.equal(await upload.finish(), true);
});
