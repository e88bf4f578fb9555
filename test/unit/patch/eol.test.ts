// Line-ending conversions (core.autocrlf, eol attributes): the files in the folder are CRLF, the
// blobs LF. Apply compares and merges in the repository form and writes the working-tree form.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { applyTaskPatch } from '../../../src/core/patch';
import { git } from '../worktree/helpers';
import { makeWorkspace, runTasks } from './helpers';
import { placeOf } from './place';

const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
const crlf = (text: string) => text.replace(/\n/g, '\r\n');

const ws = makeWorkspace({ '.gitattributes': '*.txt eol=crlf\n', 'a.txt': lines(40), 'b.txt': lines(5) });
after(() => ws.cleanup());

describe('apply with line-ending conversion', () => {
  it('merges and applies cleanly when the working files are CRLF and the blobs LF', async () => {
    fs.rmSync(path.join(ws.root, 'a.txt'));
    fs.rmSync(path.join(ws.root, 'b.txt'));
    git(ws.root, ['checkout', '--', 'a.txt', 'b.txt']);
    assert.equal(ws.read('a.txt'), crlf(lines(40)), 'checked out with CRLF');
    const [task] = await runTasks(ws, [
      {
        edit: (cwd) => {
          assert.equal(fs.readFileSync(path.join(cwd, 'a.txt'), 'utf8'), crlf(lines(40)), 'the worktree has CRLF files too');
          fs.writeFileSync(path.join(cwd, 'a.txt'), crlf(lines(40).replace('line 35\n', 'line 35 agent\n')));
          fs.writeFileSync(path.join(cwd, 'b.txt'), crlf(lines(5).replace('line 1\n', 'line 1 agent\n')));
        },
      },
    ]);
    ws.write('a.txt', crlf(lines(40).replace('line 2\n', 'line 2 user\n')));
    const outcome = await applyTaskPatch({ ...placeOf(ws.board, ws.root), taskId: task.id });
    assert.equal(outcome.status, 'applied-3way', outcome.message);
    assert.equal(ws.read('a.txt'), crlf(lines(40).replace('line 2\n', 'line 2 user\n').replace('line 35\n', 'line 35 agent\n')));
    assert.equal(ws.read('b.txt'), crlf(lines(5).replace('line 1\n', 'line 1 agent\n')));
  });
});
