// `swarm`: the command-line tool. It shares the board (and later the pool) with the extension.
import { Command, CommanderError } from 'commander';
import { BoardFormatError, BoardInputError, FileBoard, resolveBoardDir } from '../core/board';
import { EXIT_FAILURE, EXIT_USAGE, ExitError, UsageError } from './errors';
import { escapeTerminal } from './format';
import { registerBoardCommands } from './commands/board';
import { registerReportCommands } from './commands/report';
import { registerRunCommands } from './commands/run';
import { registerAgentsCommands } from './commands/agents';
import { registerWorktreeCommands } from './commands/worktree';
import { registerMcpCommands } from './commands/mcp';

function buildProgram(): Command {
  const program = new Command();
  program
    .name('swarm')
    .description('Agent Swarm: a file task board and a pool of coding agents')
    .option('--board <dir>', 'board directory (default: .swarm in the workspace; env SWARM_BOARD)')
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  let board: FileBoard | undefined;
  const openBoard = (): FileBoard => {
    if (!board) {
      const root = resolveBoardDir({ explicit: program.opts<{ board?: string }>().board, env: process.env.SWARM_BOARD, cwd: process.cwd() });
      board = FileBoard.open({ root });
    }
    return board;
  };
  registerBoardCommands(program, openBoard);
  registerReportCommands(program, openBoard);
  registerRunCommands(program, openBoard);
  registerAgentsCommands(program, openBoard);
  registerWorktreeCommands(program, openBoard);
  registerMcpCommands(program, openBoard);
  return program;
}

function oneLine(message: string): string {
  return message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
}

/** Error messages quote titles, ids and file names others wrote: printed with controls escaped. */
function printError(message: string): void {
  console.error(`swarm: ${escapeTerminal(message, { multiline: true })}`);
}

/** Maps every error to one line on stderr and an exit code; unexpected errors keep their stack. */
function exitCodeFor(error: unknown): number {
  if (error instanceof ExitError) {
    if (error.message) printError(error.message);
    return error.exitCode;
  }
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    printError(oneLine(error.message));
    return EXIT_USAGE;
  }
  if (error instanceof UsageError || error instanceof BoardInputError || error instanceof BoardFormatError) {
    printError(oneLine(error.message));
    return EXIT_USAGE;
  }
  printError(error instanceof Error ? error.stack ?? error.message : String(error));
  return EXIT_FAILURE;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    return exitCodeFor(error);
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
