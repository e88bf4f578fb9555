// The board commands of `swarm`: the contract later tools and tests rely on (see the README).
import { Command, Option } from 'commander';
import { BoardInputError, Claim, EVENTS_START, FileBoard, listAllTasks, MAX_ATTEMPTS_LIMIT, PRIORITY_LIMIT, TaskSpec, type Board, type EventBatch } from '../../core/board';
import { isSharedBoard, withSource as withSnapshot } from '../../core/remote/post';
import { RemoteGitError } from '../../core/remote/errors';
import { EXIT_NOTHING_TO_CLAIM, EnvironmentError, ExitError, UsageError } from '../errors';
import { escapeTerminal, formatEvent, formatStats, formatTask, formatTaskTable, printJson, printText, toJson } from '../format';
import { parseFileList, parseInteger, parseJson, parseStatus, parseTime, readTaskLines } from '../parse';

/** Any board (a folder or redis://) through the async interface. */
export type OpenBoard = () => Promise<Board>;

interface JsonOption {
  json?: boolean;
}

const jsonOption = (): Option => new Option('--json', 'print JSON only');
const MAX_LEASE_OPTION_MS = 24 * 3_600_000;
const leaseOption = (description: string): Option => new Option('--lease-ms <n>', description).argParser(parseInteger('--lease-ms', 100, MAX_LEASE_OPTION_MS));
const tokenOption = (): Option => new Option('--token <token>', 'the lease token that claim printed ("token")');
// --agent used to pick the claim; a later attempt by an agent of the same name made that
// ambiguous (a stale holder completed the new attempt), so it is refused with what to do instead.
const retiredAgentOption = (): Option => new Option('--agent <name>').hideHelp();

interface HolderOptions {
  token?: string;
  agent?: string;
}

/** The claim a lease-holder command acts on: its token, checked against the task id given. */
function claimOf(id: string, options: HolderOptions): Pick<Claim, 'token'> {
  if (options.agent !== undefined && options.token === undefined) {
    throw new UsageError('--agent no longer identifies a claim (a later attempt may use the same agent name); pass --token T, the "token" that claim printed.');
  }
  if (!options.token) throw new UsageError('--token T is required: the "token" that claim printed.');
  const tokenId = options.token.split('~')[0];
  if (tokenId !== id) throw new UsageError(`The token ${JSON.stringify(options.token)} belongs to task ${JSON.stringify(tokenId)}, not ${id}.`);
  return { token: options.token };
}

export function registerBoardCommands(program: Command, openBoard: OpenBoard): void {
  program
    .command('init')
    .description('create the board, or check an existing one (done automatically on first use)')
    .action(async () => {
      // Opening creates a board that does not exist yet and checks one that does (its format, and
      // on Redis the server: reachable, the password, no eviction).
      const board = await openBoard();
      printText(`Board ready at ${escapeTerminal(board.describe())}`);
    });

  program
    .command('post')
    .description('post a task and print its id; --jsonl posts one task per line (the flags are defaults for every line)')
    .argument('[title]', 'task title')
    .option('--prompt <text>', 'what the agent should do')
    .option('--files <a,b>', 'workspace-relative files the task touches', parseFileList)
    .option('--priority <n>', 'higher runs first', parseInteger('--priority', -PRIORITY_LIMIT, PRIORITY_LIMIT))
    .option('--max-attempts <n>', 'attempts before the dead-letter queue', parseInteger('--max-attempts', 1, MAX_ATTEMPTS_LIMIT))
    .option('--type <type>', 'kind of task (fix, prompt, command, ...)')
    .option('--payload <json>', 'extra JSON data for the executor', parseJson('--payload'))
    .option('--parent <id>', 'add as a child of a waiting map task')
    .option('--not-before <time>', 'not claimable before (epoch ms, ISO date, or a delay: 500ms, 30s, 5m, 2h, 7d)', parseTime)
    .option('--jsonl <file>', 'post one task per JSON line from a file, or - for stdin (docs/task-lines.md)')
    .option('--requires <a,b>', 'labels a runner must have to take the task (swarm run --labels)', parseFileList)
    .addOption(remoteOption())
    .addOption(jsonOption())
    .action(async (title: string | undefined, options: PostOptions) => {
      if (options.jsonl && title) throw new UsageError('Give either a title or --jsonl, not both.');
      const specs = options.jsonl
        ? readTaskLines(options.jsonl, { allowParentId: true, defaults: defaultsFromOptions(options) })
        : [specFromOptions(title, options)];
      const board = await openBoard();
      const tasks = await board.postMany(await withSource(board, specs, options.remote));
      if (options.json) printJson(tasks.map((task) => task.id));
      else for (const task of tasks) printText(task.id);
    });

  program
    .command('map')
    .description('create a map task whose children come one per JSON line; prints the parent id')
    .argument('<title>', 'title of the parent task')
    .requiredOption('--jsonl <file>', 'children, one JSON task per line, or - for stdin (docs/task-lines.md)')
    .option('--prompt <text>', 'prompt of the parent task')
    .option('--priority <n>', 'priority of the parent, and of the children that set none', parseInteger('--priority', -PRIORITY_LIMIT, PRIORITY_LIMIT))
    .addOption(remoteOption())
    .addOption(jsonOption())
    .action(async (title: string, options: { jsonl: string; prompt?: string; priority?: number; remote?: string } & JsonOption) => {
      const children = readTaskLines(options.jsonl, { allowParentId: false, defaults: withoutUndefined({ priority: options.priority }) });
      const board = await openBoard();
      // Only the children run; the parent waits for them and needs no source.
      const withSnapshot = await withSource(board, children, options.remote);
      const { parent, children: posted } = await board.map({ title, ...withoutUndefined({ prompt: options.prompt, priority: options.priority }) }, withSnapshot);
      if (options.json) printJson({ id: parent.id, children: posted.length, childIds: posted.map((child) => child.id) });
      else printText(parent.id);
    });

  program
    .command('list')
    .description('list tasks')
    .option('--status <status>', 'only tasks of this status', parseStatus)
    .addOption(jsonOption())
    .action(async (options: { status?: ReturnType<typeof parseStatus> } & JsonOption) => {
      const tasks = await listAllTasks(await openBoard(), options.status);
      if (options.json) printJson(tasks);
      else printText(formatTaskTable(tasks));
    });

  program
    .command('show')
    .description('show one task with its result and error history')
    .argument('<id>')
    .addOption(jsonOption())
    .action(async (id: string, options: JsonOption) => {
      const board = await openBoard();
      const task = await board.get(id);
      if (!task) throw new BoardInputError(`No task with id ${id} on the board at ${board.describe()}.`);
      const errors = await board.errors(id);
      const progress = task.childCount !== undefined ? await board.progress(id) : undefined;
      if (options.json) printJson({ ...task, errors, ...(progress ? { progress } : {}) });
      else printText(formatTask(task, errors));
    });

  program
    .command('stats')
    .description('count tasks per status, quarantined files, and map progress')
    .addOption(jsonOption())
    .action(async (options: JsonOption) => {
      const stats = await (await openBoard()).stats();
      if (options.json) printJson({ ...stats.counts, quarantined: stats.quarantined, parents: stats.parents });
      else printText(formatStats(stats));
    });

  program
    .command('claim')
    .description('claim the next task and print it as JSON with its lease "token"; exit 3 when nothing is claimable')
    .requiredOption('--agent <name>', 'who claims')
    .addOption(leaseOption('lease length'))
    .addOption(jsonOption())
    .action(async (options: { agent: string; leaseMs?: number }) => {
      const board = await openBoard();
      await board.reclaimExpired();
      const claim = await board.claim({ agent: options.agent, leaseMs: options.leaseMs });
      if (!claim) throw new ExitError(EXIT_NOTHING_TO_CLAIM);
      printJson({ ...claim.task, token: claim.token });
    });

  program
    .command('heartbeat')
    .description('renew the lease on a claimed task')
    .argument('<id>')
    .addOption(tokenOption())
    .addOption(retiredAgentOption())
    .addOption(leaseOption('new lease length'))
    .action(async (id: string, options: HolderOptions & { leaseMs?: number }) => {
      const claim = claimOf(id, options);
      const board = await openBoard();
      const expiresAt = await board.heartbeat(claim, options.leaseMs);
      console.log(new Date(expiresAt).toISOString());
    });

  program
    .command('complete')
    .description('complete a claimed task')
    .argument('<id>')
    .addOption(tokenOption())
    .addOption(retiredAgentOption())
    .option('--result <json>', 'result JSON', parseJson('--result'))
    .action(async (id: string, options: HolderOptions & { result?: unknown }) => {
      const claim = claimOf(id, options);
      const board = await openBoard();
      await board.complete(claim, options.result);
      printText(`${escapeTerminal(id)} done`);
    });

  program
    .command('fail')
    .description('fail a claimed attempt: retried with backoff, or dead-lettered')
    .argument('<id>')
    .addOption(tokenOption())
    .addOption(retiredAgentOption())
    .requiredOption('--error <message>', 'what went wrong')
    .option('--permanent', 'do not retry: send to the dead-letter queue now')
    .action(async (id: string, options: HolderOptions & { error: string; permanent?: boolean }) => {
      const claim = claimOf(id, options);
      const board = await openBoard();
      const task = await board.fail(claim, options.error, { permanent: options.permanent });
      const next = task.status === 'dead' ? 'moved to the dead-letter queue' : `retry after ${new Date(task.notBefore ?? 0).toISOString()}`;
      printText(`${escapeTerminal(id)} failed: ${next}`);
    });

  program
    .command('cancel')
    .description('cancel a task that has not ended')
    .argument('<id>')
    .action(async (id: string) => {
      await (await openBoard()).cancel(id);
      printText(`${escapeTerminal(id)} cancelled`);
    });

  program
    .command('reclaim')
    .description('return tasks with expired leases to pending (or dead when out of attempts)')
    .addOption(jsonOption())
    .action(async (options: JsonOption) => {
      const board = await openBoard();
      // The file board also finishes interrupted maps and promotes due tasks here; the Redis board
      // does both on its own as it goes, so only its expired leases wait for a sweep.
      const { reclaimed, promoted, parentsCompleted: parents } = board instanceof FileBoard ? await board.maintain() : { reclaimed: await board.reclaimExpired(), promoted: 0, parentsCompleted: 0 };
      if (options.json) printJson({ reclaimed, promoted, parentsCompleted: parents });
      else console.log(`reclaimed ${reclaimed}, promoted ${promoted}, map tasks completed ${parents}`);
    });

  registerDlqCommands(program, openBoard);
  registerLogCommand(program, openBoard);
}

const remoteOption = (): Option => new Option('--remote <name>', 'shared board: the git remote runners fetch from (default origin, else the only remote)');

/** The one post path of every poster (core/remote/post.ts), with the CLI's wording and exit codes. */
async function withSource(board: Board, specs: TaskSpec[], remote: string | undefined): Promise<TaskSpec[]> {
  if (remote !== undefined && !isSharedBoard(board)) throw new UsageError('--remote only applies to a shared (redis://) board, whose tasks run on other machines.');
  try {
    return await withSnapshot({ board, workspaceRoot: process.cwd(), remote, note: (line) => console.error(`swarm: ${escapeTerminal(line)}`) }, specs);
  } catch (error) {
    if (!(error instanceof RemoteGitError)) throw error;
    throw error.permanent ? new UsageError(error.message) : new EnvironmentError(error.message);
  }
}

interface PostOptions extends JsonOption {
  remote?: string;
  requires?: string[];
  prompt?: string;
  files?: string[];
  priority?: number;
  maxAttempts?: number;
  type?: string;
  payload?: unknown;
  parent?: string;
  notBefore?: number;
  jsonl?: string;
}

/** The flags of `post` as task fields; with --jsonl they are the defaults of every line. */
function defaultsFromOptions(options: PostOptions): Partial<TaskSpec> {
  return withoutUndefined({
    prompt: options.prompt,
    files: options.files,
    priority: options.priority,
    maxAttempts: options.maxAttempts,
    type: options.type,
    payload: options.payload,
    parentId: options.parent,
    notBefore: options.notBefore,
    requires: options.requires,
  });
}

function specFromOptions(title: string | undefined, options: PostOptions): TaskSpec {
  if (!title) throw new UsageError('A task needs a title: swarm post "<title>" [options], or --jsonl FILE.');
  return { ...defaultsFromOptions(options), title };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

function registerDlqCommands(program: Command, openBoard: OpenBoard): void {
  const dlq = program.command('dlq').description('the dead-letter queue');
  dlq
    .command('list')
    .description('list dead tasks with their last error')
    .addOption(jsonOption())
    .action(async (options: JsonOption) => {
      const board = await openBoard();
      const dead = [];
      for (const task of await listAllTasks(board, 'dead')) dead.push({ ...task, errors: await board.errors(task.id) });
      if (options.json) return printJson(dead);
      if (dead.length === 0) return console.log('The dead-letter queue is empty.');
      for (const task of dead) printText(`${escapeTerminal(task.id)}  ${escapeTerminal(task.title)}\n    ${escapeTerminal(task.lastError?.message ?? 'no error recorded')}`);
    });
  dlq
    .command('requeue')
    .description('move dead tasks back to pending with a fresh attempt budget')
    .argument('[id]')
    .option('--all', 'requeue every dead task')
    .action(async (id: string | undefined, options: { all?: boolean }) => {
      if (!id === !options.all) throw new UsageError('Give a task id or --all (not both).');
      const board = await openBoard();
      if (!options.all) {
        const task = await board.requeue(id!);
        console.log(task.childCount === undefined ? 'requeued 1 task' : `requeued the dead children of map task ${id}`);
        return;
      }
      const requeued = await board.requeueAll();
      console.log(`requeued ${requeued.length} task${requeued.length === 1 ? '' : 's'}`);
    });
}

/** Events read per round while printing the log. */
const LOG_PAGE = 1000;

function registerLogCommand(program: Command, openBoard: OpenBoard): void {
  program
    .command('log')
    .description('print the event log; --follow keeps printing new events')
    .option('--follow', 'wait for new events until interrupted')
    .addOption(jsonOption())
    .action(async (options: { follow?: boolean } & JsonOption) => {
      const board = await openBoard();
      const print = (batch: EventBatch): void => {
        for (const event of batch.events) {
          if (options.json) console.log(toJson(event));
          else printText(formatEvent(event));
        }
      };
      // The whole retained history, page by page, then (with --follow) from where it ended.
      let cursor: string | undefined;
      for (;;) {
        const batch = await board.readEvents(cursor, LOG_PAGE);
        print(batch);
        if (batch.events.length === 0 || batch.cursor === cursor) break;
        cursor = batch.cursor;
      }
      if (!options.follow) return;
      let failed: unknown;
      let stop: () => void = () => undefined;
      const follower = board.follow(print, { cursor: cursor ?? EVENTS_START, onError: (error) => ((failed = error), stop()) });
      await new Promise<void>((resolve) => {
        stop = resolve;
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await follower.dispose();
      if (failed) throw failed;
    });
}
