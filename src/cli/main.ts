// `swarm`: the command-line tool. It shares the board (and later the pool) with the extension.
import * as fs from 'fs';
import { Command, CommanderError } from 'commander';
import { FileBoard as AsyncFileBoard, FileBoardEngine as FileBoard, resolveBoardDir, workspaceOfBoard, type Board } from '../core/board';
import { openBoard as openBoardAt, parseBoardLocation } from '../core/board/open';
import { BOARD_PASSWORD_ENV, boardAccessOf } from '../core/pool/boardAccess';
import { EXIT_CODE_BY_KIND, EXIT_FAILURE, EXIT_USAGE, EnvironmentError, ExitError, fileSystemErrorLine, isFileSystemError, plainLine } from './errors';
import { SwarmUserError } from '../core/errors';
import { escapeTerminal } from './format';
import { swarmVersion } from './version';
import { registerBoardCommands } from './commands/board';
import type { WorkingBoard } from './commands/run';
import { registerWorktreeCommands, workspaceHere } from './commands/worktree';

/**
 * The commands whose modules a start loads only when they run (or for help): `run`, `report`,
 * `agents` and `mcp` bring the pool, the executors, the sandbox and the MCP server, about a third
 * of the bundle, which the board and apply commands never use. Reached only through `import()`,
 * so esbuild initialises them on first use.
 */
async function loadOtherCommands() {
  const [report, run, agents, mcp] = await Promise.all([import('./commands/report'), import('./commands/run'), import('./commands/agents'), import('./commands/mcp')]);
  return { report, run, agents, mcp };
}

type OtherCommands = Awaited<ReturnType<typeof loadOtherCommands>>;

/** The program with every command, or (`others` undefined) with the board and review commands only. */
function buildProgram(others: OtherCommands | undefined): Command {
  const program = new Command();
  program
    .name('swarm')
    .description('Agent Swarm: a file task board and a pool of coding agents')
    .version(swarmVersion() ?? 'unknown (run from source)', '--version', 'print the version')
    .option('--board <dir|url>', 'board folder (default: .swarm in the workspace), or redis://[user@]host:port[/db][?board=NAME] (password from SWARM_BOARD_PASSWORD); env SWARM_BOARD')
    .option('--verbose', 'print the stack trace of an unexpected error')
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  const boardText = (): string | undefined => program.opts<{ board?: string }>().board ?? process.env.SWARM_BOARD;
  let board: FileBoard | undefined;
  // Warnings are side effects that failed after a change was made: the change stands, the
  // command prints its real outcome and exits 0, and stderr says what is missing.
  const onWarning = (warning: string): void => console.error(`swarm: warning: ${plainLine(warning)}`);
  // The file board's engine, opened once per process.
  const openBoard = (): FileBoard => {
    if (!board) {
      const root = resolveBoardDir({ explicit: program.opts<{ board?: string }>().board, env: process.env.SWARM_BOARD, cwd: process.cwd() });
      assertBoardFolder(root);
      board = FileBoard.open({ root, onWarning });
    }
    return board;
  };
  // Every command takes its board through the async Board interface: a folder is the engine above
  // in this thread, a redis:// URL the Redis board.
  const openAnyBoard = (): Promise<Board> => {
    opened.board ??= isRemoteBoard(boardText()) ? openBoardAt(parseBoardLocation(boardText() as string), { onWarning }) : Promise.resolve(AsyncFileBoard.over(openBoard()));
    return opened.board;
  };
  // The commands that work on a workspace (run, mcp): the board, the workspace its results belong
  // to, and how agent processes open the board. A file board's workspace is the folder that holds
  // it; a shared board's is the repository this command runs in.
  const openWorkingBoard = async (): Promise<WorkingBoard> => {
    const text = boardText();
    if (!isRemoteBoard(text)) {
      const root = openBoard().root;
      return { board: await openAnyBoard(), workspaceRoot: workspaceOfBoard(root), access: { location: root } };
    }
    const access = boardAccessOf(parseBoardLocation(text as string));
    const opened = await openAnyBoard();
    // The password goes to agent processes through their environment only; the commands this
    // process runs itself (sequential mode, verify checks) do not inherit it.
    delete process.env[BOARD_PASSWORD_ENV];
    return { board: opened, workspaceRoot: workspaceHere(), access };
  };
  registerBoardCommands(program, openAnyBoard);
  others?.report.registerReportCommands(program, openAnyBoard);
  others?.run.registerRunCommands(program, openWorkingBoard);
  others?.agents.registerAgentsCommands(program, openAnyBoard);
  registerWorktreeCommands(program, openAnyBoard);
  others?.mcp.registerMcpCommands(program, openWorkingBoard);
  return program;
}

/**
 * The board and review commands alone when `argv` names one of them; otherwise (another command,
 * help, a typo commander suggests a name for) the program with every command.
 */
async function programFor(argv: string[]): Promise<Command> {
  const quick = buildProgram(undefined);
  const name = commandName(argv);
  if (name !== undefined && quick.commands.some((command) => command.name() === name)) return quick;
  return buildProgram(await loadOtherCommands());
}

/** The first word of `argv` that is not a global option or its value; undefined when there is none. */
function commandName(argv: string[]): string | undefined {
  for (let index = 0; index < argv.length; index += 1) {
    const word = argv[index];
    if (word === '--board') index += 1;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}

/** The async board a command opened, closed when the command ends (a Redis connection keeps the process alive). */
const opened: { board?: Promise<Board> } = {};

function isRemoteBoard(text: string | undefined): boolean {
  return text !== undefined && /^\s*rediss?:\/\//i.test(text);
}


/** A board path that names a file gets a sentence, not ENOTDIR from deep inside the board. */
function assertBoardFolder(root: string): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(root, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
    throw new EnvironmentError(`The board path ${root} goes through a file, not a folder. Point --board (or SWARM_BOARD) at a folder.`);
  }
  if (stat && !stat.isDirectory()) {
    throw new EnvironmentError(`The board path ${root} is a file, not a folder. Point --board (or SWARM_BOARD) at a folder, or move the file away.`);
  }
}

/** Error messages quote titles, ids and file names others wrote: printed with controls escaped. */
function printError(message: string): void {
  console.error(`swarm: ${escapeTerminal(message, { multiline: true })}`);
}

/** Maps every error to one line on stderr and an exit code; the stack only with --verbose. */
function exitCodeFor(error: unknown, verbose: boolean): number {
  if (error instanceof ExitError) {
    if (error.message) printError(error.message);
    return error.exitCode;
  }
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    console.error(`swarm: ${plainLine(error.message)}`);
    return EXIT_USAGE;
  }
  if (error instanceof SwarmUserError) {
    console.error(`swarm: ${plainLine(error.message)}`);
  } else if (isFileSystemError(error)) {
    console.error(`swarm: ${plainLine(fileSystemErrorLine(error))}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`swarm: unexpected error: ${plainLine(message)}${verbose ? '' : ' (run again with --verbose for the stack trace)'}`);
  }
  if (verbose && error instanceof Error && error.stack) printError(error.stack);
  return error instanceof SwarmUserError ? EXIT_CODE_BY_KIND[error.kind] : EXIT_FAILURE;
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    await (await programFor(argv)).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    return exitCodeFor(error, verbose);
  } finally {
    await closeOpenedBoard();
  }
}

async function closeOpenedBoard(): Promise<void> {
  const board = opened.board;
  opened.board = undefined;
  if (board) await board.then((open) => open.close()).catch(() => undefined);
}

/**
 * A reader that stops early (`swarm list --json | head -1`) closes the pipe: stop quietly, like
 * other command-line tools, instead of dying with an unhandled EPIPE stack trace.
 */
function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    if (stream !== process.stderr) console.error(`swarm: could not write the output: ${plainLine(error.message)}`);
    process.exit(EXIT_FAILURE);
  });
}

exitQuietlyOnClosedPipe(process.stdout);
exitQuietlyOnClosedPipe(process.stderr);
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
