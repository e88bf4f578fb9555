// Pure helpers behind "Fix with swarm": which lines get a code lens, which diagnostics count as
// problems, and which files a "fix all" covers. vscode-free so it is unit-tested in plain Node.
import * as path from 'path';
import { plural } from '../../core/format';
import { findTodoLines, type FixProblem } from './fixTask';

/** VS Code's DiagnosticSeverity values (Error = 0 … Hint = 3), kept numeric to stay vscode-free. */
export const Severity = { error: 0, warning: 1, info: 2, hint: 3 } as const;

/** The parts of a vscode.Diagnostic the fix needs. */
export interface DiagnosticLike {
  range: { start: { line: number }; end: { line: number; character?: number } };
  message: string;
  severity: number;
  source?: string;
  code?: string | number | { value: string | number };
}

/** One lens: a line and every problem that starts on it. */
export interface LensGroup {
  line: number;
  endLine: number;
  problems: FixProblem[];
}

/** Errors and warnings are worth a fix task; information and hints are not. */
export function isFixable(diagnostic: Pick<DiagnosticLike, 'severity'>): boolean {
  return diagnostic.severity === Severity.error || diagnostic.severity === Severity.warning;
}

export function toFixProblem(diagnostic: DiagnosticLike): FixProblem {
  const { start, end } = diagnostic.range;
  // A range that ends at column 0 of the next line covers only the line before it.
  const endLine = end.line > start.line && end.character === 0 ? end.line - 1 : end.line;
  const code = diagnostic.code === undefined ? undefined : typeof diagnostic.code === 'object' ? String(diagnostic.code.value) : String(diagnostic.code);
  return {
    startLine: start.line,
    endLine: Math.max(start.line, endLine),
    message: diagnostic.message,
    severity: severityName(diagnostic.severity),
    ...(diagnostic.source ? { source: diagnostic.source } : {}),
    ...(code ? { code } : {}),
  };
}

function severityName(severity: number): FixProblem['severity'] {
  if (severity === Severity.error) return 'error';
  if (severity === Severity.warning) return 'warning';
  if (severity === Severity.info) return 'info';
  return 'hint';
}

/** The fixable problems of a file, in line order. */
export function fixableProblems(diagnostics: readonly DiagnosticLike[]): FixProblem[] {
  return diagnostics.filter(isFixable).map(toFixProblem).sort((a, b) => a.startLine - b.startLine || a.endLine - b.endLine);
}

/** TODO/FIXME comments as problems, for the optional TODO lens. */
export function todoProblems(text: string): FixProblem[] {
  return findTodoLines(text).map(({ line, message }) => ({ startLine: line, endLine: line, message, severity: 'todo' }));
}

/**
 * Groups problems into lenses: one lens per line on which problems start (several diagnostics on
 * one line share a lens). The group's end is the furthest end of its problems.
 */
export function groupLensLines(problems: readonly FixProblem[]): LensGroup[] {
  const byLine = new Map<number, FixProblem[]>();
  for (const problem of problems) {
    const group = byLine.get(problem.startLine);
    if (group) group.push(problem);
    else byLine.set(problem.startLine, [problem]);
  }
  return [...byLine.entries()]
    .sort(([a], [b]) => a - b)
    .map(([line, grouped]) => ({ line, endLine: Math.max(...grouped.map((problem) => problem.endLine)), problems: grouped }));
}

/** The lens title: says how many problems one click hands to the swarm. */
export function lensTitle(group: Pick<LensGroup, 'problems'>): string {
  const count = group.problems.length;
  return count === 1 ? 'Fix with swarm' : `Fix with swarm (${count} problems)`;
}

export function lensTooltip(group: Pick<LensGroup, 'problems'>): string {
  return `Post a fix task for: ${group.problems.map((problem) => problem.message.split('\n')[0]).join('; ')}`;
}

/** Problems that touch lines [startLine, endLine] (both inclusive). */
export function problemsInLines(problems: readonly FixProblem[], startLine: number, endLine: number): FixProblem[] {
  return problems.filter((problem) => problem.startLine <= endLine && problem.endLine >= startLine);
}

/**
 * The workspace-relative path (forward slashes) of a file, or undefined when it lies outside the
 * workspace or inside folders a fix must never touch (.git, the board).
 */
export function workspaceRelative(workspaceRoot: string, file: string): string | undefined {
  const relative = path.relative(workspaceRoot, file);
  if (!relative || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  const posix = relative.split(path.sep).join('/');
  const first = posix.split('/')[0];
  if (first === '.git' || first === '.swarm') return undefined;
  return posix;
}

/** Whether `file` is `folder` itself or lies below it (absolute paths). */
export function isInside(folder: string, file: string): boolean {
  const relative = path.relative(folder, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

export interface FileProblems {
  /** Workspace-relative path. */
  file: string;
  problems: FixProblem[];
}

/**
 * The files a "fix all" covers: inside the workspace (and the chosen folder), with at least one
 * error or warning, sorted by path so the map's children come in a stable order.
 */
export function filesToFix(
  workspaceRoot: string,
  entries: ReadonlyArray<{ file: string; diagnostics: readonly DiagnosticLike[] }>,
  folder?: string,
): FileProblems[] {
  const byFile = new Map<string, FixProblem[]>();
  for (const entry of entries) {
    if (folder && !isInside(folder, entry.file)) continue;
    const relative = workspaceRelative(workspaceRoot, entry.file);
    if (!relative) continue;
    const problems = fixableProblems(entry.diagnostics);
    if (problems.length === 0) continue;
    byFile.set(relative, [...(byFile.get(relative) ?? []), ...problems]);
  }
  return [...byFile.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([file, problems]) => ({ file, problems }));
}

/** A one-line count for messages: "3 errors and 1 warning in 2 files". */
export function problemSummary(files: readonly FileProblems[]): string {
  const all = files.flatMap((entry) => entry.problems);
  const errors = all.filter((problem) => problem.severity === 'error').length;
  const warnings = all.filter((problem) => problem.severity === 'warning').length;
  const parts = [plural(errors, 'error'), plural(warnings, 'warning')].filter((part) => !part.startsWith('0 '));
  return `${parts.join(' and ') || plural(all.length, 'problem')} in ${plural(files.length, 'file')}`;
}
