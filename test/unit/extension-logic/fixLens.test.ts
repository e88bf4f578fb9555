import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import {
  Severity,
  filesToFix,
  fixableProblems,
  groupLensLines,
  isInside,
  lensTitle,
  problemSummary,
  problemsInLines,
  todoProblems,
  toFixProblem,
  workspaceRelative,
  type DiagnosticLike,
} from '../../../src/extension/logic/fixLens';

function diagnostic(line: number, message: string, severity: number = Severity.error, endLine = line, endCharacter = 5): DiagnosticLike {
  return { range: { start: { line }, end: { line: endLine, character: endCharacter } }, message, severity };
}

describe('fixLens: which diagnostics are problems', () => {
  it('keeps errors and warnings, drops information and hints, in line order', () => {
    const problems = fixableProblems([diagnostic(7, 'w', Severity.warning), diagnostic(2, 'e'), diagnostic(3, 'i', Severity.info), diagnostic(4, 'h', Severity.hint)]);
    assert.deepEqual(
      problems.map((problem) => [problem.startLine, problem.message, problem.severity]),
      [
        [2, 'e', 'error'],
        [7, 'w', 'warning'],
      ],
    );
  });

  it('carries source and code (also the { value } form), and a range ending at column 0 ends on the line before', () => {
    const problem = toFixProblem({ ...diagnostic(1, 'bad', Severity.error, 3, 0), source: 'ts', code: { value: 2322 } });
    assert.deepEqual(problem, { startLine: 1, endLine: 2, message: 'bad', severity: 'error', source: 'ts', code: '2322' });
    assert.equal(toFixProblem({ ...diagnostic(4, 'x'), code: 'no-unused' }).code, 'no-unused');
    assert.equal(toFixProblem(diagnostic(4, 'x', Severity.error, 4, 0)).endLine, 4, 'a range on one line stays on it');
  });
});

describe('fixLens: lens groups', () => {
  it('one lens per line: several diagnostics on the same line share it', () => {
    const groups = groupLensLines(fixableProblems([diagnostic(4, 'a'), diagnostic(4, 'b', Severity.warning, 6), diagnostic(1, 'c')]));
    assert.deepEqual(
      groups.map((group) => [group.line, group.endLine, group.problems.map((problem) => problem.message)]),
      [
        [1, 1, ['c']],
        [4, 6, ['a', 'b']],
      ],
    );
    assert.equal(lensTitle(groups[0]), 'Fix with swarm');
    assert.equal(lensTitle(groups[1]), 'Fix with swarm (2 problems)');
  });

  it('no problems, no lenses', () => {
    assert.deepEqual(groupLensLines([]), []);
  });

  it('TODO and FIXME comments become problems on their lines; plain words do not', () => {
    const text = ['const a = 1; // TODO: handle b', 'const todo = 2;', '# FIXME broken', 'x /* TODO */'].join('\n');
    assert.deepEqual(
      todoProblems(text).map((problem) => [problem.startLine, problem.message, problem.severity]),
      [
        [0, 'TODO: handle b', 'todo'],
        [2, 'FIXME: broken', 'todo'],
        [3, 'TODO', 'todo'],
      ],
    );
  });

  it('problemsInLines picks the problems touching a line range', () => {
    const problems = fixableProblems([diagnostic(1, 'a'), diagnostic(3, 'b', Severity.error, 5), diagnostic(9, 'c')]);
    assert.deepEqual(problemsInLines(problems, 4, 4).map((problem) => problem.message), ['b']);
    assert.deepEqual(problemsInLines(problems, 0, 3).map((problem) => problem.message), ['a', 'b']);
    assert.deepEqual(problemsInLines(problems, 6, 8), []);
  });
});

describe('fixLens: files of a fix-all', () => {
  const root = path.join(path.sep, 'work', 'repo');
  const at = (...parts: string[]) => path.join(root, ...parts);

  it('workspace-relative paths with forward slashes; nothing outside, in .git or in .swarm', () => {
    assert.equal(workspaceRelative(root, at('src', 'a.ts')), 'src/a.ts');
    assert.equal(workspaceRelative(root, path.join(path.sep, 'work', 'other', 'a.ts')), undefined);
    assert.equal(workspaceRelative(root, at('.git', 'config')), undefined);
    assert.equal(workspaceRelative(root, at('.swarm', 'board.json')), undefined);
    assert.equal(workspaceRelative(root, root), undefined);
    assert.equal(isInside(at('src'), at('src', 'x', 'a.ts')), true);
    assert.equal(isInside(at('src'), at('srcx', 'a.ts')), false);
  });

  it('one entry per file with errors or warnings, in path order, limited to a folder when given', () => {
    const entries = [
      { file: at('src', 'b.ts'), diagnostics: [diagnostic(2, 'b1'), diagnostic(5, 'b2', Severity.warning)] },
      { file: at('src', 'a.ts'), diagnostics: [diagnostic(0, 'a1')] },
      { file: at('src', 'clean.ts'), diagnostics: [diagnostic(0, 'only info', Severity.info)] },
      { file: at('lib', 'c.ts'), diagnostics: [diagnostic(1, 'c1')] },
      { file: path.join(path.sep, 'elsewhere', 'd.ts'), diagnostics: [diagnostic(1, 'd1')] },
    ];
    const all = filesToFix(root, entries);
    assert.deepEqual(
      all.map((entry) => [entry.file, entry.problems.length]),
      [
        ['lib/c.ts', 1],
        ['src/a.ts', 1],
        ['src/b.ts', 2],
      ],
    );
    assert.deepEqual(
      filesToFix(root, entries, at('src')).map((entry) => entry.file),
      ['src/a.ts', 'src/b.ts'],
    );
    assert.equal(problemSummary(all), '3 errors and 1 warning in 3 files');
    assert.equal(problemSummary(filesToFix(root, [entries[1]])), '1 error in 1 file');
  });
});
