// `swarm report`: a Markdown or HTML report of the board's run (tasks, durations, failures,
// retries, parallelism, resource peaks).
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import type { Board } from '../../core/board';
import { buildRunReport, renderRunReport, reportFormatForPath, type ReportFormat } from '../../core/report';
import { UsageError } from '../errors';
import { parseInteger } from '../parse';
import { escapeTerminal, printText, toJson } from '../format';

interface ReportCliOptions {
  json?: boolean;
  html?: boolean;
  markdown?: boolean;
  out?: string;
  maxTasks?: number;
}

export function registerReportCommands(program: Command, openBoard: () => Promise<Board>): void {
  program
    .command('report')
    .description('write a report of the run: tasks, durations, failures, retries, parallelism, resource peaks')
    .option('--json', 'the report data as JSON (for scripts)')
    .option('--html', 'self-contained HTML instead of Markdown (the default for an --out file ending in .html)')
    .option('--markdown', 'Markdown even for an --out file ending in .html')
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--max-tasks <n>', 'task rows listed (default 2000; failures first)', parseInteger('--max-tasks', 0, 1_000_000))
    .action(async (options: ReportCliOptions) => {
      if ([options.html, options.markdown, options.json].filter(Boolean).length > 1) throw new UsageError('Give only one of --html, --markdown and --json.');
      const reportOptions = options.maxTasks === undefined ? {} : { maxTasks: options.maxTasks };
      const board = await openBoard();
      let text: string;
      if (options.json) text = toJson(await buildRunReport(board, reportOptions), 2) + '\n';
      else {
        const format: ReportFormat = options.html ? 'html' : options.markdown ? 'markdown' : options.out ? reportFormatForPath(options.out) : 'markdown';
        text = await renderRunReport(board, format, reportOptions);
      }
      if (!options.out) {
        // JSON is already escaped; Markdown and HTML quote task titles and errors.
        process.stdout.write(options.json ? text : escapeTerminal(text, { multiline: true }));
        return;
      }
      const file = path.resolve(options.out);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      printText(`Report written to ${escapeTerminal(file)}`);
    });
}
