// What a "Fix with swarm" task says: the file, the range, the diagnostics and the code around
// them, so any executor (a CLI agent, a model, a shell command reading the payload) has context.
import type { TaskSpec } from '../../core/board/types';

export interface FixProblem {
  /** 0-based line numbers, inclusive. */
  startLine: number;
  endLine: number;
  message: string;
  severity: 'error' | 'warning' | 'info' | 'hint' | 'todo';
  source?: string;
  code?: string;
}

export interface FixRequest {
  /** Workspace-relative path with forward slashes. */
  file: string;
  problems: FixProblem[];
  /** The file's text (as in the editor, unsaved edits included). */
  text: string;
  /** Lines of context kept before and after the problems. */
  contextLines?: number;
}

export interface FixPayload {
  kind: 'fix';
  file: string;
  range: { startLine: number; endLine: number };
  problems: FixProblem[];
  context: { startLine: number; endLine: number; code: string };
}

export const FIX_TASK_TYPE = 'fix';
const DEFAULT_CONTEXT_LINES = 20;

export function buildFixTask(request: FixRequest): TaskSpec {
  if (request.problems.length === 0) throw new Error(`No problem to fix in ${request.file}.`);
  const lines = request.text.split(/\r?\n/);
  const startLine = Math.min(...request.problems.map((problem) => problem.startLine));
  const endLine = Math.max(...request.problems.map((problem) => problem.endLine));
  const contextLines = request.contextLines ?? DEFAULT_CONTEXT_LINES;
  const contextStart = Math.max(0, startLine - contextLines);
  const contextEnd = Math.min(lines.length - 1, endLine + contextLines);
  const code = numbered(lines.slice(contextStart, contextEnd + 1), contextStart);
  const payload: FixPayload = {
    kind: 'fix',
    file: request.file,
    range: { startLine, endLine },
    problems: request.problems,
    context: { startLine: contextStart, endLine: contextEnd, code },
  };
  const count = request.problems.length;
  const title = count === 1 ? `Fix ${request.file}:${startLine + 1}: ${oneLine(request.problems[0].message, 80)}` : `Fix ${count} problems in ${request.file}`;
  return { title, type: FIX_TASK_TYPE, prompt: fixPrompt(request.file, request.problems, contextStart, contextEnd, code), files: [request.file], payload };
}

function fixPrompt(file: string, problems: FixProblem[], contextStart: number, contextEnd: number, code: string): string {
  const listed = problems.map((problem) => `- line ${problem.startLine + 1}${problem.endLine > problem.startLine ? `-${problem.endLine + 1}` : ''} (${problem.severity}${problem.source ? `, ${problem.source}` : ''}${problem.code ? ` ${problem.code}` : ''}): ${problem.message}`);
  return [
    `Fix the following problem${problems.length === 1 ? '' : 's'} in ${file}. Change only what is needed; keep the file's style.`,
    '',
    ...listed,
    '',
    `Code around them (lines ${contextStart + 1}-${contextEnd + 1}):`,
    '```',
    code,
    '```',
  ].join('\n');
}

function numbered(lines: string[], first: number): string {
  const width = String(first + lines.length).length;
  return lines.map((line, index) => `${String(first + index + 1).padStart(width, ' ')}  ${line}`).join('\n');
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Lines with a TODO or FIXME comment marker (0-based), for the optional TODO lens. */
export function findTodoLines(text: string): Array<{ line: number; message: string }> {
  const found: Array<{ line: number; message: string }> = [];
  const lines = text.split(/\r?\n/);
  const marker = /(?:\/\/|#|\/\*|--|;|<!--)\s*(TODO|FIXME)\b[:\s]?(.*)$/;
  for (let index = 0; index < lines.length; index += 1) {
    const match = marker.exec(lines[index]);
    if (match) found.push({ line: index, message: `${match[1]}: ${match[2].replace(/\*\/\s*$|-->\s*$/, '').trim()}`.replace(/:\s*$/, '') });
  }
  return found;
}

/** Problems on nearby lines become one task: lines within `gap` of each other are merged. */
export function clusterProblems(problems: FixProblem[], gap = 3): FixProblem[][] {
  const sorted = [...problems].sort((a, b) => a.startLine - b.startLine);
  const clusters: FixProblem[][] = [];
  let end = -Infinity;
  for (const problem of sorted) {
    if (clusters.length > 0 && problem.startLine <= end + gap) clusters[clusters.length - 1].push(problem);
    else clusters.push([problem]);
    end = Math.max(end, problem.endLine);
  }
  return clusters;
}
