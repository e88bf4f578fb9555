// `swarm report`: a Markdown or HTML report of the board's run (tasks, durations, failures,
// retries, speedup, resource peaks).
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import type { FileBoard } from '../../core/board';
import { renderRunReport, reportFormatForPath, type ReportFormat } from '../../core/report';
import { UsageError } from '../errors';

interface ReportCliOptions {
  html?: boolean;
  markdown?: boolean;
  out?: string;
  maxTasks?: string;
}

export function registerReportCommands(program: Command, openBoard: () => FileBoard): void {
  program
    .command('report')
    .description('write a report of the run: tasks, durations, failures, retries, speedup, resource peaks')
    .option('--html', 'self-contained HTML instead of Markdown (the default for an --out file ending in .html)')
    .option('--markdown', 'Markdown even for an --out file ending in .html')
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--max-tasks <n>', 'task rows listed (default 2000; failures first)')
    .action((options: ReportCliOptions) => {
      if (options.html && options.markdown) throw new UsageError('Give either --html or --markdown, not both.');
      const format: ReportFormat = options.html ? 'html' : options.markdown ? 'markdown' : options.out ? reportFormatForPath(options.out) : 'markdown';
      const maxTasks = parseMaxTasks(options.maxTasks);
      const text = renderRunReport(openBoard(), format, maxTasks === undefined ? {} : { maxTasks });
      if (!options.out) {
        process.stdout.write(text);
        return;
      }
      const file = path.resolve(options.out);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      console.log(`Report written to ${file}`);
    });
}

function parseMaxTasks(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new UsageError(`--max-tasks must be a whole number of 0 or more, not "${value}".`);
  return parsed;
}
