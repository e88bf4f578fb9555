// The three "Fix with swarm" commands. Each posts work on the board and offers to start the swarm;
// none runs anything itself, so they work in Restricted Mode too (only starting agents does not).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Task, TaskSpec } from '../../core/board/types';
import { offerStart } from '../commands';
import { mapFromEditor, postFromEditor } from '../post';
import { UserFacingError, type SwarmSession } from '../session';
import { lensSettings } from '../settings';
import { buildFixTask, type FixProblem } from '../logic/fixTask';
import { filesToFix, fixableProblems, problemsInLines, problemSummary, todoProblems, toFixProblem, workspaceRelative, type DiagnosticLike } from '../logic/fixLens';

/** A file of the workspace, as the board names it and as VS Code sees it now. */
interface FixTarget {
  uri: vscode.Uri;
  relative: string;
  /** The text in the editor (unsaved edits included), else on disk. */
  text: string;
}

/**
 * agentSwarm.fixProblems: from a code lens (uri, range) or a quick fix (uri, diagnostics) — one task
 * for those problems. Without arguments (palette, walkthrough) it fixes the active file.
 */
export async function fixProblems(session: SwarmSession, uriArg?: unknown, where?: unknown): Promise<Task | undefined> {
  const uri = asUri(uriArg);
  if (!uri) return vscode.window.activeTextEditor ? fixFile(session) : fixAllProblems(session);
  const target = await openTarget(session, uri);
  const problems = problemsAt(uri, target.text, where);
  if (problems.length === 0) {
    const lines = asLineRange(where);
    throw new UserFacingError(`${target.relative}${lines ? ` has no errors or warnings on line ${lines.start + 1}${lines.end > lines.start ? `-${lines.end + 1}` : ''}` : ' has no errors or warnings'} any more, so nothing was posted.`);
  }
  return postFix(session, buildFixTask({ file: target.relative, problems, text: target.text }));
}

/**
 * agentSwarm.fixFile: every error and warning of a file (explorer, editor context or the active
 * editor) in one task; a file without problems gets a task from a request the user types.
 */
export async function fixFile(session: SwarmSession, uriArg?: unknown): Promise<Task | undefined> {
  const uri = asUri(uriArg) ?? vscode.window.activeTextEditor?.document.uri;
  if (!uri) throw new UserFacingError('Open a file in the editor (or right-click one in the Explorer) to fix it with the swarm.');
  const target = await openTarget(session, uri);
  const problems = fixableProblems(vscode.languages.getDiagnostics(uri));
  if (problems.length > 0) return postFix(session, buildFixTask({ file: target.relative, problems, text: target.text }));
  const request = await vscode.window.showInputBox({
    title: `Fix ${target.relative} with Swarm`,
    prompt: `${target.relative} has no errors or warnings. What should an agent change in it?`,
    placeHolder: 'e.g. Handle an empty name; add input validation',
    ignoreFocusOut: true,
  });
  if (!request?.trim()) return undefined;
  const lastLine = Math.max(0, target.text.split(/\r?\n/).length - 1);
  const wholeFile: FixProblem = { startLine: 0, endLine: lastLine, message: request.trim(), severity: 'info' };
  return postFix(session, buildFixTask({ file: target.relative, problems: [wholeFile], text: target.text }));
}

/**
 * agentSwarm.fixAllProblems: the workspace, or a folder from the explorer — a map task with one
 * child per file that has errors or warnings, so the parent shows the progress of the whole fix.
 */
export async function fixAllProblems(session: SwarmSession, folderArg?: unknown): Promise<Task | undefined> {
  const root = workspaceRootOf(session);
  const folder = asUri(folderArg);
  const scope = folder ? folderScope(root, folder) : undefined;
  const entries = vscode.languages
    .getDiagnostics()
    .filter(([uri]) => uri.scheme === 'file')
    .map(([uri, diagnostics]) => ({ file: uri.fsPath, diagnostics: diagnostics as readonly DiagnosticLike[] }));
  const files = filesToFix(root, entries, folder?.fsPath);
  const where = scope ? `in ${scope}/` : 'in the workspace';
  if (files.length === 0) {
    void vscode.window.showInformationMessage(
      `No errors or warnings ${where}, so there is nothing to fix. The Problems view lists what VS Code has checked so far; open the files or run a build task if problems are missing.`,
    );
    return undefined;
  }
  const children: TaskSpec[] = [];
  for (const entry of files) {
    const text = await currentText(vscode.Uri.file(path.join(root, entry.file)));
    children.push(buildFixTask({ file: entry.file, problems: entry.problems, text }));
  }
  const summary = problemSummary(files);
  const parent: TaskSpec = {
    title: `Fix ${summary} ${where}`,
    prompt: `Fix the errors and warnings ${where}: one task per file.\n\n${files.map((entry) => `- ${entry.file}: ${entry.problems.length}`).join('\n')}`,
    files: files.map((entry) => entry.file),
    payload: { kind: 'fix-all', folder: scope ?? '', files: files.map((entry) => entry.file) },
  };
  const board = await session.ensureViewBoard();
  const { parent: posted } = await mapFromEditor({ board, workspaceRoot: root, log: session.log }, parent, children);
  session.notifyBoardChanged();
  session.log.info(`Fix with swarm: posted ${posted.id} with ${children.length} file task(s) (${summary})`);
  void offerStart(session, `Posted a fix for ${summary}.`);
  return posted;
}

async function postFix(session: SwarmSession, spec: TaskSpec): Promise<Task> {
  const board = await session.ensureViewBoard();
  const task = await postFromEditor({ board, workspaceRoot: session.workspaceRoot, log: session.log }, spec);
  session.notifyBoardChanged();
  session.log.info(`Fix with swarm: posted ${task.id} "${task.title}"`);
  void offerStart(session, `Posted "${task.title}".`);
  return task;
}

/** The problems a lens (a line range) or a quick fix (its diagnostics) points at. */
function problemsAt(uri: vscode.Uri, text: string, where: unknown): FixProblem[] {
  if (Array.isArray(where)) {
    const diagnostics = where.filter(isDiagnosticLike);
    const fixable = fixableProblems(diagnostics);
    return fixable.length > 0 ? fixable : diagnostics.map(toFixProblem);
  }
  const known = fixableProblems(vscode.languages.getDiagnostics(uri));
  if (lensSettings().todo) known.push(...todoProblems(text));
  const lines = asLineRange(where);
  return lines ? problemsInLines(known, lines.start, lines.end) : known;
}

async function openTarget(session: SwarmSession, uri: vscode.Uri): Promise<FixTarget> {
  if (uri.scheme !== 'file') throw new UserFacingError(`The swarm fixes files in the workspace folder; ${uri.toString(true)} is not a file on disk.`);
  const root = workspaceRootOf(session);
  const relative = workspaceRelative(root, uri.fsPath);
  if (!relative) throw new UserFacingError(`${uri.fsPath} is outside the workspace folder ${root} (or in .git/.swarm); the swarm only changes files inside the folder.`);
  return { uri, relative, text: await currentText(uri) };
}

/** The editor's text when the file is open (unsaved edits included), else the file on disk. */
async function currentText(uri: vscode.Uri): Promise<string> {
  const open = vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri.toString());
  if (open) return open.getText();
  try {
    return await fs.promises.readFile(uri.fsPath, 'utf8');
  } catch (error) {
    throw new UserFacingError(`${uri.fsPath} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); nothing was posted.`);
  }
}

function workspaceRootOf(session: SwarmSession): string {
  const root = session.workspaceRoot;
  if (!root) throw new UserFacingError('Agent Swarm needs an open folder: its task board lives in the folder (.swarm). Open a folder and try again.');
  return root;
}

function folderScope(root: string, folder: vscode.Uri): string | undefined {
  const relative = path.relative(root, folder.fsPath);
  if (relative.startsWith('..') || path.isAbsolute(relative)) throw new UserFacingError(`${folder.fsPath} is outside the workspace folder ${root}; pick a folder inside it.`);
  return relative ? relative.split(path.sep).join('/') : undefined;
}

/** Command arguments arrive as Uri objects, or as strings / plain objects from links and tests. */
function asUri(value: unknown): vscode.Uri | undefined {
  if (value instanceof vscode.Uri) return value;
  if (typeof value === 'string' && value) return /^[a-z][\w+.-]*:/i.test(value) && !path.isAbsolute(value) ? vscode.Uri.parse(value) : vscode.Uri.file(value);
  if (value && typeof value === 'object' && 'scheme' in value && 'path' in value) return vscode.Uri.from(value as { scheme: string; path: string });
  return undefined;
}

function asLineRange(value: unknown): { start: number; end: number } | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const range = value as { start?: { line?: unknown }; end?: { line?: unknown } };
  if (typeof range.start?.line !== 'number') return undefined;
  const end = typeof range.end?.line === 'number' ? range.end.line : range.start.line;
  return { start: range.start.line, end: Math.max(range.start.line, end) };
}

function isDiagnosticLike(value: unknown): value is DiagnosticLike {
  const candidate = value as Partial<DiagnosticLike> | undefined;
  return typeof candidate?.message === 'string' && typeof candidate.range?.start?.line === 'number';
}
