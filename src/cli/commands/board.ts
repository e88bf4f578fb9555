// The board commands of `swarm`: the contract later tools and tests rely on (see the README).
import { Command, Option } from 'commander';
import { BoardInputError, FileBoard, LeaseLostError, TaskSpec } from '../../core/board';
import { EXIT_LEASE_LOST, EXIT_NOTHING_TO_CLAIM, ExitError, UsageError } from '../errors';
import { escapeTerminal, formatEvent, formatStats, formatTask, formatTaskTable, printJson, printText, toJson } from '../format';
import { parseFileList, parseInteger, parseJson, parseStatus, parseTime, readJsonLines } from '../parse';

export type OpenBoard = () => FileBoard;

interface JsonOption {
  json?: boolean;
}

const jsonOption = (): Option => new Option('--json', 'print JSON only');

function requireAgent(agent: string | undefined): string {
  if (!agent) throw new UsageError('--agent NAME is required.');
  return agent;
}

/** Runs a lease-holder operation, turning a lost lease into exit code 4 with the board's message. */
function asHolder<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof LeaseLostError) throw new ExitError(EXIT_LEASE_LOST, error.message);
    throw error;
  }
}

function findClaimOrFail(board: FileBoard, id: string, agent: string) {
  const claim = board.findClaim(id, agent);
  if (!claim) {
    const task = board.get(id);
    if (!task) throw new BoardInputError(`No task with id ${id}.`);
    const holder = task.claimedBy ? `it is held by ${task.claimedBy}` : `it is ${task.status}`;
    throw new ExitError(EXIT_LEASE_LOST, `Lease lost on task ${id}: agent ${agent} does not hold it (${holder}).`);
  }
  return claim;
}

export function registerBoardCommands(program: Command, openBoard: OpenBoard): void {
  program
    .command('init')
    .description('create the board (done automatically on first use)')
    .action(() => {
      const board = openBoard();
      printText(`Board ready at ${escapeTerminal(board.root)}`);
    });

  program
    .command('post')
    .description('post a task and print its id; --jsonl posts one task per line')
    .argument('[title]', 'task title')
    .option('--prompt <text>', 'what the agent should do')
    .option('--files <a,b>', 'workspace-relative files the task touches', parseFileList)
    .option('--priority <n>', 'higher runs first', parseInteger('--priority', -9999, 9999))
    .option('--max-attempts <n>', 'attempts before the dead-letter queue', parseInteger('--max-attempts', 1, 100))
    .option('--type <type>', 'kind of task (fix, prompt, command, ...)')
    .option('--payload <json>', 'extra JSON data for the executor', parseJson('--payload'))
    .option('--parent <id>', 'add as a child of a waiting map task')
    .option('--not-before <time>', 'not claimable before (epoch ms, ISO date, or 30s/5m/2h)', parseTime)
    .option('--jsonl <file>', 'post one task per JSON line from a file, or - for stdin')
    .addOption(jsonOption())
    .action((title: string | undefined, options: PostOptions) => {
      const specs = options.jsonl ? readJsonLines(options.jsonl) : [specFromOptions(title, options)];
      if (options.jsonl && title) throw new UsageError('Give either a title or --jsonl, not both.');
      const tasks = openBoard().postMany(specs.map((spec) => ({ ...spec, parentId: spec.parentId ?? options.parent })));
      if (options.json) printJson(tasks.map((task) => task.id));
      else for (const task of tasks) printText(task.id);
    });

  program
    .command('map')
    .description('create a map task whose children come one per JSON line; prints the parent id')
    .argument('<title>', 'title of the parent task')
    .requiredOption('--jsonl <file>', 'children, one JSON task per line, or - for stdin')
    .option('--prompt <text>', 'prompt of the parent task')
    .option('--priority <n>', 'priority of the children that set none', parseInteger('--priority', -9999, 9999))
    .addOption(jsonOption())
    .action((title: string, options: { jsonl: string; prompt?: string; priority?: number } & JsonOption) => {
      const children = readJsonLines(options.jsonl).map((child) => ({ ...child, priority: child.priority ?? options.priority }));
      const { parent } = openBoard().map({ title, prompt: options.prompt, priority: options.priority }, children);
      if (options.json) printJson({ id: parent.id, children: children.length });
      else printText(parent.id);
    });

  program
    .command('list')
    .description('list tasks')
    .option('--status <status>', 'only tasks of this status', parseStatus)
    .addOption(jsonOption())
    .action((options: { status?: ReturnType<typeof parseStatus> } & JsonOption) => {
      const tasks = openBoard().list({ status: options.status });
      if (options.json) printJson(tasks);
      else printText(formatTaskTable(tasks));
    });

  program
    .command('show')
    .description('show one task with its result and error history')
    .argument('<id>')
    .addOption(jsonOption())
    .action((id: string, options: JsonOption) => {
      const board = openBoard();
      const task = board.get(id);
      if (!task) throw new BoardInputError(`No task with id ${id} on the board at ${board.root}.`);
      const errors = board.errors(id);
      const progress = task.childCount !== undefined ? board.progress(id) : undefined;
      if (options.json) printJson({ ...task, errors, ...(progress ? { progress } : {}) });
      else printText(formatTask(task, errors));
    });

  program
    .command('stats')
    .description('count tasks per status, quarantined files, and map progress')
    .addOption(jsonOption())
    .action((options: JsonOption) => {
      const stats = openBoard().stats();
      if (options.json) printJson({ ...stats.counts, quarantined: stats.quarantined, parents: stats.parents });
      else printText(formatStats(stats));
    });

  program
    .command('claim')
    .description('claim the next task and print it as JSON; exit 3 when nothing is claimable')
    .requiredOption('--agent <name>', 'who claims')
    .option('--lease-ms <n>', 'lease length', parseInteger('--lease-ms', 100, 24 * 3_600_000))
    .addOption(jsonOption())
    .action((options: { agent: string; leaseMs?: number }) => {
      const board = openBoard();
      board.reclaimExpired();
      const claim = board.claim({ agent: options.agent, leaseMs: options.leaseMs });
      if (!claim) throw new ExitError(EXIT_NOTHING_TO_CLAIM);
      printJson(claim.task);
    });

  program
    .command('heartbeat')
    .description('renew the lease on a claimed task')
    .argument('<id>')
    .requiredOption('--agent <name>', 'the lease holder')
    .option('--lease-ms <n>', 'new lease length', parseInteger('--lease-ms', 100, 24 * 3_600_000))
    .action((id: string, options: { agent: string; leaseMs?: number }) => {
      const board = openBoard();
      const claim = findClaimOrFail(board, id, requireAgent(options.agent));
      const expiresAt = asHolder(() => board.heartbeat(claim, options.leaseMs));
      console.log(new Date(expiresAt).toISOString());
    });

  program
    .command('complete')
    .description('complete a claimed task')
    .argument('<id>')
    .requiredOption('--agent <name>', 'the lease holder')
    .option('--result <json>', 'result JSON', parseJson('--result'))
    .action((id: string, options: { agent: string; result?: unknown }) => {
      const board = openBoard();
      const claim = findClaimOrFail(board, id, options.agent);
      asHolder(() => board.complete(claim, options.result));
      printText(`${escapeTerminal(id)} done`);
    });

  program
    .command('fail')
    .description('fail a claimed attempt: retried with backoff, or dead-lettered')
    .argument('<id>')
    .requiredOption('--agent <name>', 'the lease holder')
    .requiredOption('--error <message>', 'what went wrong')
    .option('--permanent', 'do not retry: send to the dead-letter queue now')
    .action((id: string, options: { agent: string; error: string; permanent?: boolean }) => {
      const board = openBoard();
      const claim = findClaimOrFail(board, id, options.agent);
      const task = asHolder(() => board.fail(claim, options.error, { permanent: options.permanent }));
      const next = task.status === 'dead' ? 'moved to the dead-letter queue' : `retry after ${new Date(task.notBefore ?? 0).toISOString()}`;
      printText(`${escapeTerminal(id)} failed: ${next}`);
    });

  program
    .command('cancel')
    .description('cancel a task that has not ended')
    .argument('<id>')
    .action((id: string) => {
      openBoard().cancel(id);
      printText(`${escapeTerminal(id)} cancelled`);
    });

  program
    .command('reclaim')
    .description('return tasks with expired leases to pending (or dead when out of attempts)')
    .addOption(jsonOption())
    .action((options: JsonOption) => {
      const board = openBoard();
      const reclaimed = board.reclaimExpired();
      const parents = board.repairParents();
      const promoted = board.promoteDelayed();
      if (options.json) printJson({ reclaimed, promoted, parentsCompleted: parents });
      else console.log(`reclaimed ${reclaimed}, promoted ${promoted}, map tasks completed ${parents}`);
    });

  registerDlqCommands(program, openBoard);
  registerLogCommand(program, openBoard);
}

interface PostOptions extends JsonOption {
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

function specFromOptions(title: string | undefined, options: PostOptions): TaskSpec {
  if (!title) throw new UsageError('A task needs a title: swarm post "<title>" [options], or --jsonl FILE.');
  return {
    title,
    prompt: options.prompt,
    files: options.files,
    priority: options.priority,
    maxAttempts: options.maxAttempts,
    type: options.type,
    payload: options.payload,
    parentId: options.parent,
    notBefore: options.notBefore,
  };
}

function registerDlqCommands(program: Command, openBoard: OpenBoard): void {
  const dlq = program.command('dlq').description('the dead-letter queue');
  dlq
    .command('list')
    .description('list dead tasks with their last error')
    .addOption(jsonOption())
    .action((options: JsonOption) => {
      const board = openBoard();
      const dead = board.list({ status: 'dead' }).map((task) => ({ ...task, errors: board.errors(task.id) }));
      if (options.json) return printJson(dead);
      if (dead.length === 0) return console.log('The dead-letter queue is empty.');
      for (const task of dead) printText(`${escapeTerminal(task.id)}  ${escapeTerminal(task.title)}\n    ${escapeTerminal(task.lastError?.message ?? 'no error recorded')}`);
    });
  dlq
    .command('requeue')
    .description('move dead tasks back to pending with a fresh attempt budget')
    .argument('[id]')
    .option('--all', 'requeue every dead task')
    .action((id: string | undefined, options: { all?: boolean }) => {
      if (!id === !options.all) throw new UsageError('Give a task id or --all (not both).');
      const board = openBoard();
      const requeued = options.all ? board.requeueAll() : [board.requeue(id!)];
      console.log(`requeued ${requeued.length} task${requeued.length === 1 ? '' : 's'}`);
    });
}

function registerLogCommand(program: Command, openBoard: OpenBoard): void {
  program
    .command('log')
    .description('print the event log; --follow keeps printing new events')
    .option('--follow', 'wait for new events until interrupted')
    .addOption(jsonOption())
    .action(async (options: { follow?: boolean } & JsonOption) => {
      const board = openBoard();
      const print = (events: ReturnType<typeof board.events.read>['events']): void => {
        for (const event of events) {
          if (options.json) console.log(toJson(event));
          else printText(formatEvent(event));
        }
      };
      const { events, nextOffset } = board.events.read(0);
      print(events);
      if (!options.follow) return;
      const follower = board.events.follow(print, { fromOffset: nextOffset });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      follower.dispose();
    });
}
