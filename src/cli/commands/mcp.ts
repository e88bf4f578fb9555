// `swarm mcp`: serves the board to MCP clients over stdio (see src/mcp/server.ts, docs/ship.md).
// The server module is imported when the command runs: it brings the MCP SDK (dist/mcpDeps.js),
// which no other command needs.
import type { Command } from 'commander';
import type { Board } from '../../core/board';
import { escapeTerminal } from '../format';
import { swarmVersion } from '../version';

/** The board the command serves, and the workspace its results apply to. */
export type OpenWorkingBoard = () => Promise<{ board: Board; workspaceRoot: string }>;

export function registerMcpCommands(program: Command, openBoard: OpenWorkingBoard): void {
  program
    .command('mcp')
    .description('run a Model Context Protocol server over stdio: post tasks, fan out, read status and patches, cancel')
    .option('--allow-apply', 'also expose apply_result, letting the client apply patches to your files')
    .action(async (options: { allowApply?: boolean }) => {
      const { board, workspaceRoot } = await openBoard();
      // stdout carries the protocol: everything human-readable goes to stderr.
      console.error(`swarm mcp: serving board ${escapeTerminal(board.describe())}${options.allowApply ? ' (apply_result enabled)' : ''}`);
      const { runSwarmMcpServer } = await import('../../mcp/server');
      await runSwarmMcpServer({ board, workspaceRoot, allowApply: options.allowApply === true, version: swarmVersion() });
    });
}
