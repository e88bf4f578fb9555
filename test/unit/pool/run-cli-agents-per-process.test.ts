// `swarm run --agents-per-process` and swarm.config.json's pool.agentsPerProcess, end to end through
// the built CLI (run `npm run build` first): agents share agent processes as asked, and a bad value
// is refused with one line and exit 2 before any task is claimed.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'node:test';
import { cliWorkspaces } from './cli-run';

const { workspace, swarm } = cliWorkspaces('swarm-run-app-');

/** Each task records the pid of the agent process that started it ($PPID of the command's shell:
 * without a sandbox the agent process spawns it), then waits until all four run at once. */
const RECORD_PARENT = 'echo $PPID > "parent-$SWARM_TASK_ID"; while [ "$(ls parent-* | wc -l)" -lt 4 ]; do sleep 0.05; done';

function parentsOf(dir: string, taskIds: string[]): Set<string> {
  return new Set(taskIds.map((id) => fs.readFileSync(path.join(dir, `parent-${id}`), 'utf8').trim()));
}

test('swarm run --agents 4 --agents-per-process 2: four agents in two agent processes, every task done', () => {
  const { dir, board } = workspace();
  const tasks = board.postMany(Array.from({ length: 4 }, (_, index) => ({ title: `t${index}` })));
  const result = swarm(dir, ['run', '--agents', '4', '--agents-per-process', '2', '--exec', RECORD_PARENT, '--until-empty', '--isolation', 'none', '--sandbox', 'off']);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.match(result.stdout, /Done 4, dead 0/);
  assert.equal(parentsOf(dir, tasks.map((task) => task.id)).size, 2);
});

test('swarm.config.json pool.agentsPerProcess "auto" puts 4 agents into one process, whatever the cores', () => {
  const { dir, board } = workspace();
  const tasks = board.postMany(Array.from({ length: 4 }, (_, index) => ({ title: `t${index}` })));
  fs.writeFileSync(path.join(dir, 'swarm.config.json'), JSON.stringify({ pool: { agentsPerProcess: 'auto' } }));
  const result = swarm(dir, ['run', '--agents', '4', '--exec', RECORD_PARENT, '--until-empty', '--isolation', 'none', '--sandbox', 'off']);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.equal(parentsOf(dir, tasks.map((task) => task.id)).size, 1);
});

test('without any setting, agentsPerProcess is auto: 4 agents share one process', () => {
  const { dir, board } = workspace();
  const tasks = board.postMany(Array.from({ length: 4 }, (_, index) => ({ title: `t${index}` })));
  const result = swarm(dir, ['run', '--agents', '4', '--exec', RECORD_PARENT, '--until-empty', '--isolation', 'none', '--sandbox', 'off']);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.equal(parentsOf(dir, tasks.map((task) => task.id)).size, 1);
});

test('a bad --agents-per-process or pool.agentsPerProcess is refused with one line, exit 2, before any task is claimed', () => {
  const { dir, board } = workspace();
  const task = board.post({ title: 'untouched' });
  for (const bad of ['0', 'two', '1.5', '65']) {
    const result = swarm(dir, ['run', '--agents-per-process', bad, '--exec', 'touch ran', '--until-empty', '--isolation', 'none']);
    assert.equal(result.code, 2, `${bad}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /--agents-per-process must be a whole number from 1 to 64 or "auto"/);
  }
  fs.writeFileSync(path.join(dir, 'swarm.config.json'), JSON.stringify({ pool: { agentsPerProcess: 'many' } }));
  const fromFile = swarm(dir, ['run', '--exec', 'touch ran', '--until-empty', '--isolation', 'none']);
  assert.equal(fromFile.code, 2, fromFile.stderr);
  assert.match(fromFile.stderr, /agentsPerProcess/);
  assert.equal(board.get(task.id)?.status, 'pending', 'nothing was claimed');
  assert.equal(fs.existsSync(path.join(dir, 'ran')), false);
});
