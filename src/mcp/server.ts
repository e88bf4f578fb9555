// `swarm mcp`: the swarm as a tool for other agents (Claude Code, Cursor, VS Code agent mode...),
// a Model Context Protocol server over stdio. It posts to and reads the same board as the CLI and
// the extension (a folder or a Redis board, through the async Board interface); the agent pool that works the board runs elsewhere (`swarm run`, or the
// extension). Applying a patch to the user's files stays a human decision unless the server was
// started with --allow-apply.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { BoardInputError, type Board, type Task, type TaskSpec } from '../core/board';
import { SwarmUserError } from '../core/errors';
import { applyTaskPatch, readTaskPatch } from '../core/patch';
import { liveHostStatuses } from '../core/pool';
import { postMap, postTasks, type PostPlace } from '../core/remote/post';

export interface SwarmMcpOptions {
  board: Board;
  workspaceRoot: string;
  /** Exposes apply_result. Off by default: a client applying patches on its own is the user's explicit choice. */
  allowApply?: boolean;
  version?: string;
}

export const MCP_TOOL_NAMES = ['post_task', 'map_tasks', 'get_status', 'get_result', 'cancel_task'] as const;
const DEFAULT_PATCH_BYTES = 100_000;

interface ToolResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

function ok(data: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data, null, 2) }], structuredContent: data };
}

/**
 * A tool error the calling model can read: a user error (bad input, a board to fix) as its message;
 * anything else is a bug of this server, said so and logged with its stack on stderr.
 */
function failure(error: unknown): ToolResult {
  if (error instanceof SwarmUserError) return { content: [{ type: 'text', text: error.message }], isError: true };
  process.stderr.write(`swarm mcp: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  const message = error instanceof Error ? error.message : String(error);
  return { content: [{ type: 'text', text: `Internal error in the swarm MCP server (a bug, not your input): ${message}` }], isError: true };
}

/** Runs a tool body, turning thrown errors into MCP tool errors the calling model can read. */
async function guarded(body: () => Record<string, unknown> | Promise<Record<string, unknown>>): Promise<ToolResult> {
  try {
    return ok(await body());
  } catch (error) {
    return failure(error);
  }
}

function taskSummary(task: Task): Record<string, unknown> {
  return {
    id: task.id,
    title: task.title,
    status: task.status,
    attempts: task.attempts,
    maxAttempts: task.maxAttempts,
    files: task.files,
    ...(task.parentId !== undefined && { parentId: task.parentId }),
    ...(task.childCount !== undefined && { childCount: task.childCount }),
    ...(task.lastError !== undefined && { lastError: task.lastError.message }),
    ...(task.warnings !== undefined && { warnings: task.warnings }),
  };
}

async function requireTask(board: Board, taskId: string): Promise<Task> {
  const task = await board.get(taskId);
  if (!task) throw new BoardInputError(`No task ${taskId} on this board. List tasks with get_status (no taskId) or post one with post_task.`);
  return task;
}

/** A note for the calling model when nobody is working the board, so it does not wait forever. */
async function poolNote(board: Board): Promise<{ agentPools: number; note?: string }> {
  const hosts = await liveHostStatuses(board);
  if (hosts.length > 0) return { agentPools: hosts.length };
  return { agentPools: 0, note: 'No agent pool is running on this board, so tasks stay pending. Start one with `swarm run` in the workspace, or "Swarm: Start" in VS Code.' };
}

interface ToolConfig<Shape extends z.ZodRawShape> {
  title: string;
  description: string;
  inputSchema: Shape;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
}
type LooseRegisterTool = (name: string, config: Omit<ToolConfig<z.ZodRawShape>, 'inputSchema'> & { inputSchema: z.ZodTypeAny }, handler: (input: unknown) => Promise<ToolResult>) => unknown;

/**
 * McpServer.registerTool with our zod 3 shapes. The SDK accepts zod 3 and 4 at run time, but its
 * compatibility types against this zod build recurse too deep for tsc (TS2589), so the input
 * type is derived here from the shape instead. The shape becomes a strict object: an argument the
 * tool does not know (`file` for `files`) is refused with its name instead of silently dropped.
 */
function registerTool<Shape extends z.ZodRawShape>(server: McpServer, name: string, config: ToolConfig<Shape>, handler: (input: z.infer<z.ZodObject<Shape>>) => Promise<ToolResult>): void {
  const strictConfig = { ...config, inputSchema: z.object(config.inputSchema).strict() };
  (server.registerTool.bind(server) as unknown as LooseRegisterTool)(name, strictConfig, handler as (input: unknown) => Promise<ToolResult>);
}

const fileList = z.array(z.string().min(1)).max(1_000);

export function createSwarmMcpServer(options: SwarmMcpOptions): McpServer {
  const { board } = options;
  // Results are read (and applied) through the Board: patches are board artifacts.
  const place = { board, workspaceRoot: options.workspaceRoot };
  // Posts go the CLI's way: on a shared board they carry a snapshot of this workspace; what stayed
  // home is said on stderr (stdout is the protocol).
  const poster: PostPlace = { board, workspaceRoot: options.workspaceRoot, note: (line) => process.stderr.write(`swarm mcp: ${line}\n`) };
  const server = new McpServer(
    { name: 'agent-swarm', version: options.version ?? '0.0.0' },
    {
      instructions:
        'Agent Swarm runs coding tasks in parallel, each agent in its own git worktree, and keeps the result as a patch for review. ' +
        'Post one task with post_task, or fan out one task per file with map_tasks; poll get_status; read patches with get_result. ' +
        (options.allowApply ? 'apply_result applies a done task\'s patch to the workspace.' : 'Patches are applied by the user (swarm apply or the review in VS Code).'),
    },
  );

  registerTool(server,
    'post_task',
    {
      title: 'Post a task to the swarm',
      description: 'Queues one coding task for the agent swarm. Returns its id; poll get_status and read the patch with get_result.',
      inputSchema: {
        title: z.string().min(1).describe('Short title, e.g. "Fix the type error in src/a.ts"'),
        prompt: z.string().optional().describe('What the agent should do, in full'),
        files: fileList.optional().describe('Workspace-relative files the task may touch; tasks with overlapping files never run at once'),
        priority: z.number().int().min(-9999).max(9999).optional(),
        maxAttempts: z.number().int().min(1).max(100).optional(),
        bestOf: z.number().int().min(1).max(8).optional().describe('Race this many attempts; the first to pass verification wins'),
      },
      annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (input) =>
      guarded(async () => {
        const spec: TaskSpec = { title: input.title, type: 'prompt', prompt: input.prompt, files: input.files, priority: input.priority, maxAttempts: input.maxAttempts, ...(input.bestOf !== undefined && { payload: { bestOf: input.bestOf } }) };
        const [task] = await postTasks(poster, [spec]);
        return { task: taskSummary(task), ...(await poolNote(board)) };
      }),
  );

  registerTool(server,
    'map_tasks',
    {
      title: 'Fan out a map task',
      description: 'Posts a parent task with one child per item (or per file), run in parallel. Returns the parent and the child ids. get_status on the parent id reports progress; get_result on it returns the combined patch.',
      inputSchema: {
        title: z.string().min(1).describe('Title of the whole job, e.g. "Fix every type error in src/"'),
        prompt: z.string().optional().describe('Instructions shared by every child that has no prompt of its own'),
        files: fileList.optional().describe('One child per file (shorthand for items)'),
        items: z
          .array(z.object({ title: z.string().min(1), prompt: z.string().optional(), files: fileList.optional() }).strict())
          .max(1_000)
          .optional()
          .describe('The children, each with its own title, prompt and files'),
        priority: z.number().int().min(-9999).max(9999).optional(),
      },
    },
    async (input) =>
      guarded(async () => {
        const fromFiles = (input.files ?? []).map((file) => ({ title: `${input.title}: ${file}`, prompt: input.prompt, files: [file] }));
        const fromItems = (input.items ?? []).map((item) => ({ title: item.title, prompt: item.prompt ?? input.prompt, files: item.files }));
        const children: TaskSpec[] = [...fromItems, ...fromFiles].map((child) => ({ ...child, type: 'prompt', priority: input.priority }));
        if (children.length === 0) throw new BoardInputError('map_tasks needs "files" or "items" with at least one entry.');
        const { parent, children: posted } = await postMap(poster, { title: input.title, prompt: input.prompt, priority: input.priority }, children);
        return { parent: taskSummary(parent), children: posted.length, childIds: posted.map((child) => child.id), ...(await poolNote(board)) };
      }),
  );

  registerTool(server,
    'get_status',
    {
      title: 'Swarm status',
      description: 'With taskId: that task\'s status (and progress of a map task). Without: task counts on the board and running agent pools.',
      inputSchema: { taskId: z.string().min(1).optional() },
      annotations: { readOnlyHint: true },
    },
    async (input) =>
      guarded(async () => {
        if (input.taskId === undefined) {
          const stats = await board.stats();
          return { counts: stats.counts, quarantined: stats.quarantined, mapTasks: stats.parents, ...(await poolNote(board)) };
        }
        const task = await requireTask(board, input.taskId);
        const progress = task.childCount ? await board.progress(task.id) : undefined;
        const result = task.status === 'done' ? (task.result as { summary?: unknown } | undefined) : undefined;
        return {
          task: taskSummary(task),
          ...(progress && { progress }),
          ...(typeof result?.summary === 'string' && { summary: result.summary }),
          ...(task.status === 'pending' || task.status === 'running' || task.status === 'waiting' ? await poolNote(board) : {}),
        };
      }),
  );

  registerTool(server,
    'get_result',
    {
      title: 'Read a task\'s result',
      description: 'The patch a done task produced (for a map task: the combined patch of its done children), with a per-file stat. Large patches are cut at maxBytes.',
      inputSchema: { taskId: z.string().min(1), maxBytes: z.number().int().min(1_000).max(5_000_000).optional() },
      annotations: { readOnlyHint: true },
    },
    async (input) =>
      guarded(async () => {
        const task = await requireTask(board, input.taskId);
        const patch = await readTaskPatch(place, task.id);
        const summary = (task.result as { summary?: unknown } | undefined)?.summary;
        if (!patch) {
          const why = task.status === 'done' ? 'it finished without changing any file' : `it is ${task.status}${task.childCount ? ' and none of its children has a patch yet' : ''}`;
          return { task: taskSummary(task), patch: null, reason: `Task ${task.id} has no patch: ${why}.`, ...(typeof summary === 'string' && { summary }) };
        }
        const limit = input.maxBytes ?? DEFAULT_PATCH_BYTES;
        const bytes = Buffer.byteLength(patch.text);
        const text = bytes > limit ? Buffer.from(patch.text).subarray(0, limit).toString('utf8') : patch.text;
        return {
          task: taskSummary(task),
          ...(typeof summary === 'string' && { summary }),
          files: patch.files,
          stat: { files: patch.files.length, additions: sum(patch.files, 'additions'), deletions: sum(patch.files, 'deletions') },
          patch: text,
          truncated: bytes > limit,
          patchBytes: bytes,
          applied: false,
          apply: options.allowApply ? 'call apply_result to apply it' : `the user applies it: \`swarm apply ${task.id}\` or the review in VS Code`,
        };
      }),
  );

  registerTool(server,
    'cancel_task',
    {
      title: 'Cancel a task',
      description: 'Cancels a task that has not ended (a map task cancels its unfinished children); a running attempt is stopped.',
      inputSchema: { taskId: z.string().min(1) },
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    async (input) => guarded(async () => ({ task: taskSummary(await board.cancel(input.taskId)) })),
  );

  if (options.allowApply) {
    registerTool(server,
      'apply_result',
      {
        title: 'Apply a task\'s patch to the workspace',
        description: 'Applies a done task\'s patch to the user\'s files (three-way when they changed since; never overwrites on conflict). Undo with `swarm undo ID`.',
        inputSchema: { taskId: z.string().min(1) },
        annotations: { destructiveHint: true },
      },
      async (input) =>
        guarded(async () => {
          const outcome = await applyTaskPatch({ ...place, taskId: input.taskId });
          return { ...outcome };
        }),
    );
  }
  return server;
}

function sum(files: { additions: number; deletions: number }[], key: 'additions' | 'deletions'): number {
  return files.reduce((total, file) => total + file[key], 0);
}

/** Serves over stdin/stdout until the client closes the pipe. Nothing else may write to stdout. */
export async function runSwarmMcpServer(options: SwarmMcpOptions): Promise<void> {
  const server = createSwarmMcpServer(options);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close();
}
