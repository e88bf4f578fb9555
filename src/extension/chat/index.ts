// The swarm inside VS Code's chat: a language-model tool agent mode can call to hand work to the
// swarm, the `@swarm` chat participant, and the `swarm mcp` server offered to VS Code's MCP
// support. Each part is feature-checked: on a VS Code without the API it is skipped with a log
// line, never an activation error.
import * as path from 'path';
import * as vscode from 'vscode';
import { Commands } from '../commandIds';
import type { Task, TaskSpec } from '../../core/board';
import type { Board } from '../../core/board/interface';
import { liveHostStatuses } from '../../core/pool';
import { mapFromEditor, postFromEditor, type EditorPoster } from '../post';

export interface ChatDeps {
  /** The board to post to, created on first use (async: its engine is off this thread). */
  getBoard(): Promise<Board | undefined>;
  /** The open folder: on a shared board its working state travels with the posted tasks. */
  workspaceRoot(): string | undefined;
  /** The file board's folder (its pools' status files, the MCP server's --board). */
  boardDir(): string | undefined;
  log: vscode.LogOutputChannel;
}

export const POST_TOOL = 'agentSwarm_postTasks';
export const STATUS_TOOL = 'agentSwarm_status';
export const PARTICIPANT_ID = 'agent-swarm.swarm';
export const MCP_PROVIDER_ID = 'agentSwarm.mcp';

interface PostInput {
  title: string;
  prompt?: string;
  files?: string[];
  /** One child task per file (a map task) instead of one task for all files. */
  perFile?: boolean;
}

interface StatusInput {
  taskId?: string;
}

const NO_BOARD = 'No swarm board is open: open a folder and run "Swarm: Show Board" (or `swarm init`) first.';

function text(value: string): vscode.LanguageModelToolResult {
  return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(value)]);
}

/** A pool on any machine working the board (its host record is on the board) means tasks will run. */
async function poolHint(board: Board): Promise<string> {
  const running = await liveHostStatuses(board).then((hosts) => hosts.length > 0, () => false);
  return running ? '' : ' No agent pool is running yet: start it with "Swarm: Start".';
}

/** Posts `input` as one task, or as a map task with a child per file. Returns the id to follow. */
export async function postFromInput(poster: EditorPoster, input: PostInput): Promise<{ id: string; count: number }> {
  const files = input.files ?? [];
  if (input.perFile && files.length > 0) {
    const children: TaskSpec[] = files.map((file) => ({ title: `${input.title}: ${file}`, type: 'prompt', prompt: input.prompt, files: [file] }));
    const { parent } = await mapFromEditor(poster, { title: input.title, prompt: input.prompt }, children);
    return { id: parent.id, count: children.length };
  }
  return { id: (await postFromEditor(poster, { title: input.title, type: 'prompt', prompt: input.prompt, files })).id, count: 1 };
}

function posterOf(deps: ChatDeps, board: Board): EditorPoster {
  return { board, workspaceRoot: deps.workspaceRoot(), log: deps.log };
}

async function statusText(board: Board, taskId?: string): Promise<string> {
  if (taskId === undefined) {
    const { counts } = await board.stats();
    return `Swarm board: ${Object.entries(counts).map(([status, count]) => `${count} ${status}`).join(', ')}.${await poolHint(board)}`;
  }
  const task = await board.get(taskId);
  if (!task) return `No task ${taskId} on the board.`;
  const progress = task.childCount ? await board.progress(task.id) : undefined;
  const detail = progress ? ` ${progress.done}/${progress.total} done, ${progress.dead} failed, ${progress.running} running (${progress.percent}%).` : '';
  return `Task ${task.id} "${task.title}" is ${task.status}.${detail}${task.lastError ? ` Last error: ${task.lastError.message}` : ''}`;
}

function registerTools(context: vscode.ExtensionContext, deps: ChatDeps): void {
  const post: vscode.LanguageModelTool<PostInput> = {
    prepareInvocation: (options) => ({
      invocationMessage: `Posting "${options.input.title}" to the swarm`,
      confirmationMessages: { title: 'Post to the swarm', message: `Queue "${options.input.title}"${options.input.files?.length ? ` for ${options.input.files.length} file(s)` : ''} for the agent swarm?` },
    }),
    invoke: async (options) => {
      const board = await deps.getBoard();
      if (!board) return text(NO_BOARD);
      const { id, count } = await postFromInput(posterOf(deps, board), options.input);
      deps.log.info(`chat tool: posted ${count} task(s) as ${id}`);
      return text(`Posted ${count === 1 ? 'task' : `a map task with ${count} children`} ${id}. Follow it with the ${STATUS_TOOL} tool; the user reviews the patches with "Swarm: Review Results".${await poolHint(board)}`);
    },
  };
  const status: vscode.LanguageModelTool<StatusInput> = {
    invoke: async (options) => {
      const board = await deps.getBoard();
      return text(board ? await statusText(board, options.input.taskId) : NO_BOARD);
    },
  };
  context.subscriptions.push(vscode.lm.registerTool(POST_TOOL, post), vscode.lm.registerTool(STATUS_TOOL, status));
}

/** Files under `scope` (workspace-relative, or everything) with error diagnostics, and the errors. */
function filesWithErrors(scope: string | undefined): Map<string, string[]> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const byFile = new Map<string, string[]>();
  if (!folder) return byFile;
  for (const [uri, diagnostics] of vscode.languages.getDiagnostics()) {
    const relative = path.relative(folder.uri.fsPath, uri.fsPath).split(path.sep).join('/');
    if (relative.startsWith('..') || path.isAbsolute(relative)) continue;
    if (scope && !(relative === scope || relative.startsWith(`${scope.replace(/\/+$/, '')}/`))) continue;
    const errors = diagnostics.filter((diagnostic) => diagnostic.severity === vscode.DiagnosticSeverity.Error);
    if (errors.length > 0) byFile.set(relative, errors.map((error) => `line ${error.range.start.line + 1}: ${error.message}`));
  }
  return byFile;
}

/** "fix every type error in src/" → the scope `src`; undefined for the whole workspace. */
export function scopeOf(prompt: string): string | undefined {
  const match = /\b(?:in|under)\s+([\w./-]+)/i.exec(prompt);
  return match ? match[1].replace(/^\.\//, '').replace(/\/+$/, '') || undefined : undefined;
}

export function asksToFixErrors(prompt: string): boolean {
  return /\bfix\b/i.test(prompt) && /\b(errors?|problems?|diagnostics?)\b/i.test(prompt);
}

async function followProgress(board: Board, task: Task, stream: vscode.ChatResponseStream, token: vscode.CancellationToken): Promise<void> {
  let last = '';
  const deadline = Date.now() + 30 * 60_000;
  while (!token.isCancellationRequested && Date.now() < deadline) {
    const current = await board.get(task.id);
    if (!current) return;
    const progress = current.childCount ? await board.progress(task.id) : undefined;
    const line = progress ? `${progress.done}/${progress.total} done, ${progress.dead} failed, ${progress.running} running` : current.status;
    if (line !== last) {
      stream.progress(line);
      last = line;
    }
    if (['done', 'dead', 'cancelled'].includes(current.status)) {
      stream.markdown(`\n\n${await statusText(board, task.id)}\n`);
      return;
    }
    if ((await poolHint(board)) !== '') {
      stream.markdown('\n\nNo agent pool is running, so the tasks wait on the board.\n');
      stream.button({ command: Commands.start, title: 'Start the swarm' });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

function registerParticipant(context: vscode.ExtensionContext, deps: ChatDeps): void {
  const handler: vscode.ChatRequestHandler = async (request, _chatContext, stream, token) => {
    const board = await deps.getBoard();
    if (!board) {
      stream.markdown(NO_BOARD);
      return;
    }
    const prompt = request.prompt.trim();
    if (prompt === '' || /^status\b/i.test(prompt)) {
      stream.markdown(await statusText(board));
      return;
    }
    let posted: { id: string; count: number };
    if (asksToFixErrors(prompt)) {
      const scope = scopeOf(prompt);
      const errors = filesWithErrors(scope);
      if (errors.size === 0) {
        stream.markdown(`No errors reported${scope ? ` under \`${scope}\`` : ''} right now (VS Code's Problems view is empty there), so nothing was posted.`);
        return;
      }
      const children: TaskSpec[] = [...errors].map(([file, messages]) => ({ title: `Fix errors in ${file}`, type: 'fix', files: [file], prompt: `${prompt}\n\nErrors in ${file}:\n${messages.join('\n')}` }));
      const { parent } = await mapFromEditor(posterOf(deps, board), { title: prompt, prompt }, children);
      posted = { id: parent.id, count: children.length };
      stream.markdown(`Posted **${children.length}** task(s), one per file with errors:\n\n${[...errors.keys()].map((file) => `- \`${file}\``).join('\n')}\n`);
    } else {
      posted = await postFromInput(posterOf(deps, board), { title: prompt.length > 80 ? `${prompt.slice(0, 77)}...` : prompt, prompt });
      stream.markdown(`Posted task \`${posted.id}\`.\n`);
    }
    deps.log.info(`@swarm: posted ${posted.count} task(s) as ${posted.id}`);
    const task = await board.get(posted.id);
    if (task) await followProgress(board, task, stream, token);
    stream.button({ command: Commands.reviewResults, title: 'Review results' });
    return { metadata: { taskId: posted.id } };
  };
  const participant = vscode.chat.createChatParticipant(PARTICIPANT_ID, handler);
  participant.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'icon.png');
  context.subscriptions.push(participant);
}

/** The API landed after our minimum VS Code (1.100); its shape is declared here for the runtime check. */
interface McpApi {
  registerMcpServerDefinitionProvider?(id: string, provider: { provideMcpServerDefinitions(): unknown[] }): vscode.Disposable;
}
type McpStdioDefinitionClass = new (label: string, command: string, args?: string[], env?: Record<string, string | number | null>, version?: string) => { cwd?: vscode.Uri };

function registerMcpServer(context: vscode.ExtensionContext, deps: ChatDeps): boolean {
  const lm = vscode.lm as unknown as McpApi;
  const Definition = (vscode as unknown as { McpStdioServerDefinition?: McpStdioDefinitionClass }).McpStdioServerDefinition;
  if (typeof lm.registerMcpServerDefinitionProvider !== 'function' || Definition === undefined) return false;
  const provider = {
    provideMcpServerDefinitions: () => {
      const boardDir = deps.boardDir();
      if (!boardDir) return [];
      // VS Code's own binary runs the bundled CLI as plain Node.
      const definition = new Definition('Agent Swarm', process.execPath, [context.asAbsolutePath(path.join('dist', 'cli.js')), '--board', boardDir, 'mcp'], { ELECTRON_RUN_AS_NODE: 1 }, String((context.extension.packageJSON as { version?: string }).version ?? '0.0.0'));
      definition.cwd = vscode.Uri.file(path.dirname(boardDir));
      return [definition];
    },
  };
  context.subscriptions.push(lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, provider));
  return true;
}

export function registerChatIntegrations(context: vscode.ExtensionContext, deps: ChatDeps): void {
  const lm = vscode.lm as Partial<typeof vscode.lm> | undefined;
  const chat = vscode.chat as Partial<typeof vscode.chat> | undefined;
  if (typeof lm?.registerTool === 'function') attempt(deps, 'the swarm tools for agent mode', () => registerTools(context, deps));
  else deps.log.info('This VS Code has no language-model tool API (vscode.lm.registerTool); the swarm tools for agent mode are off.');
  if (typeof chat?.createChatParticipant === 'function') attempt(deps, '@swarm', () => registerParticipant(context, deps));
  else deps.log.info('This VS Code has no chat participant API; @swarm is off.');
  const mcp = attempt(deps, 'the MCP server definition', () => registerMcpServer(context, deps));
  if (mcp === false) deps.log.info('This VS Code cannot register MCP servers from extensions (needs 1.101+); add `swarm mcp` to your MCP configuration instead (docs/ship.md).');
}

/**
 * An API that exists but refuses us (VS Code 1.100 has an early registerMcpServerDefinitionProvider
 * that wants another manifest key) must cost that one feature, never the extension's activation.
 */
function attempt<T>(deps: ChatDeps, what: string, register: () => T): T | undefined {
  try {
    return register();
  } catch (error) {
    deps.log.warn(`Could not register ${what}: ${error instanceof Error ? error.message : String(error)}. The rest of Agent Swarm works without it.`);
    return undefined;
  }
}
