// The built-in model agent: it shows a chat model the task and its files, applies the edits the
// model answers with (SEARCH/REPLACE or whole-file blocks, see ./edits.ts), runs the verify command,
// and sends whatever went wrong back to the model, for up to `maxRounds` rounds. Requests go through
// the host's rate limiter; failures keep the class the provider gave them.
import fs from 'node:fs';
import path from 'node:path';
import type { ModelExecutorConfig } from '../config';
import { buildAgentPrompt } from '../prompt';
import { assertWorkingDirectory, formatDuration, runVerify } from '../verify';
import { ExecutorError, type ChatMessage, type ChatResponse, type ExecutionContext, type ExecutionResult, type Executor } from '../types';
import { applyEditBlocks, parseEditBlocks } from './edits';
import { readTaskFiles, renderFiles, type FileLimits } from './files';
import { createChatProvider } from './providers';

export const MODEL_SYSTEM_PROMPT = `You are a careful software engineer working in a repository. You change files only by answering with edit blocks; nobody reads anything else you write, and nobody can answer questions.

To change part of a file, write the file's path alone on a line, then a SEARCH/REPLACE block:

path/to/file.ts
<<<<<<< SEARCH
lines copied exactly from the current file
=======
the lines that replace them
>>>>>>> REPLACE

Rules:
- SEARCH must repeat existing lines exactly, including indentation, and match one place only; include a few surrounding lines to make it unique.
- Use several small blocks rather than one large one. Every block needs its own path line.
- To create a new file, or to rewrite a short file completely, send the whole content instead:

path/to/new-file.ts
<<<<<<< FILE
the complete content of the file
>>>>>>> FILE

- Paths are relative to the repository root. Never edit files under .git.
- Keep explanations to one or two sentences; the edits are what counts.`;

/** Names of files listed for the model when the task names none. */
const MAX_LISTED_FILES = 200;
const UNLISTED_DIRECTORIES = new Set(['.git', 'node_modules', '.swarm', 'dist', 'out', 'build', '.venv', '__pycache__', 'target']);

/** What one round ended with, to decide between success, another round, and giving up. */
type RoundOutcome = { done: true; verified: boolean } | { done: false; feedback: string; problem: string };

export class ModelExecutor implements Executor {
  readonly name: string;

  constructor(private readonly config: ModelExecutorConfig) {
    this.name = `model:${config.provider}${config.model ? `:${config.model}` : ''}`;
  }

  async execute(ctx: ExecutionContext): Promise<ExecutionResult> {
    const redact = secretRedactor(this.config, ctx);
    const log = (text: string): void => ctx.log(redact(text));
    try {
      const result = await this.run(ctx, log);
      return { ...result, summary: redact(result.summary) };
    } catch (error) {
      if (ctx.signal.aborted && !(error instanceof ExecutorError && error.cancelled)) throw ExecutorError.cancelled(`Task ${ctx.task.id}`);
      throw redactError(error, redact);
    }
  }

  private async run(ctx: ExecutionContext, log: (text: string) => void): Promise<ExecutionResult> {
    const { config } = this;
    assertWorkingDirectory(ctx.cwd);
    const provider = createChatProvider(config, ctx);
    const limits: FileLimits = { maxFileBytes: config.maxFileBytes, maxTotalBytes: config.maxTotalBytes };
    const messages: ChatMessage[] = [{ role: 'user', content: firstMessage(ctx, limits) }];
    const changedFiles = new Set<string>();
    let lastProblem = '';
    let lastReply = '';
    for (let round = 1; round <= config.maxRounds; round++) {
      throwIfCancelled(ctx);
      log(`\n[model] round ${round}/${config.maxRounds}: asking ${this.name} (${messages.length} message${messages.length === 1 ? '' : 's'}, ${charCount(messages)} characters)\n`);
      const started = Date.now();
      const response = await provider.complete({ system: MODEL_SYSTEM_PROMPT, messages, maxTokens: config.maxTokens, temperature: config.temperature }, ctx.signal);
      log(`[model] reply in ${formatDuration(Date.now() - started)}${describeUsage(response)}\n${response.text}\n`);
      messages.push({ role: 'assistant', content: response.text });
      lastReply = response.text;
      throwIfCancelled(ctx); // a cancelled task gets no further writes
      const outcome = await this.finishRound(ctx, response, changedFiles, limits, log);
      if (outcome.done) return this.result(changedFiles, round, outcome.verified, lastReply);
      lastProblem = outcome.problem;
      if (round < config.maxRounds) messages.push({ role: 'user', content: outcome.feedback });
    }
    throw new ExecutorError(
      'transient',
      `The model did not finish the task in ${config.maxRounds} round${config.maxRounds === 1 ? '' : 's'}: ${lastProblem}\n` +
        `Files changed so far: ${changedFiles.size > 0 ? [...changedFiles].join(', ') : 'none'}. Raise maxRounds, use a stronger model, or make the task smaller.`,
    );
  }

  /** Applies the reply's edits, runs verify, and says whether the task is done or what to tell the model. */
  private async finishRound(ctx: ExecutionContext, response: ChatResponse, changedFiles: Set<string>, limits: FileLimits, log: (text: string) => void): Promise<RoundOutcome> {
    const parsed = parseEditBlocks(response.text);
    const report = applyEditBlocks(ctx.cwd, parsed.blocks, { boardRoot: ctx.boardRoot });
    for (const file of report.changedFiles) changedFiles.add(file);
    if (parsed.blocks.length > 0 || parsed.problems.length > 0) {
      log(`[model] applied ${report.applied} of ${parsed.blocks.length} edit block${parsed.blocks.length === 1 ? '' : 's'}${report.changedFiles.length > 0 ? ` to ${report.changedFiles.join(', ')}` : ''}\n`);
    }
    const truncated = response.stopReason === 'length' || response.stopReason === 'max_tokens';
    const problems = [...parsed.problems, ...report.failures];
    if (truncated) problems.push(`Your reply was cut off at the token limit (${this.config.maxTokens} tokens). Send fewer or smaller edit blocks; blocks after the cut were lost.`);
    if (problems.length > 0) {
      const troubled = uniqueFiles(parsed.blocks.map((block) => block.path));
      return {
        done: false,
        problem: problems.join(' '),
        feedback: `Some of your edits could not be applied:\n${problems.map((problem) => `- ${problem}`).join('\n')}\n\n` +
          `The edits that did apply are kept. Current content of the files involved:\n\n${renderFiles(readTaskFiles(ctx.cwd, troubled, limits, ctx.boardRoot))}\n\nSend edit blocks for what is still missing.`,
      };
    }
    if (parsed.blocks.length === 0 && changedFiles.size === 0 && this.config.verify === undefined) {
      return {
        done: false,
        problem: 'The model answered without any edit blocks.',
        feedback: 'Your reply contained no edit blocks, so nothing changed. Answer with SEARCH/REPLACE or FILE blocks in the format described in the instructions.',
      };
    }
    if (this.config.verify === undefined) return { done: true, verified: false };
    const verdict = await runVerify(this.config.verify, ctx, this.config.env);
    if (verdict.passed) return { done: true, verified: true };
    return {
      done: false,
      problem: verdict.message,
      feedback: `${verdict.message}\n\nCurrent content of the files changed so far:\n\n${renderFiles(readTaskFiles(ctx.cwd, uniqueFiles([...ctx.task.files, ...changedFiles]), limits, ctx.boardRoot))}\n\nFix the cause with more edit blocks.`,
    };
  }

  private result(changedFiles: Set<string>, rounds: number, verified: boolean, lastReply: string): ExecutionResult {
    const files = [...changedFiles];
    const what = files.length === 0 ? 'changed no files' : `changed ${files.length} file${files.length === 1 ? '' : 's'} (${files.join(', ')})`;
    const check = this.config.verify === undefined ? '' : verified ? '; verify passed' : '';
    const note = proseOf(lastReply);
    return {
      summary: `${this.name} ${what} in ${rounds} round${rounds === 1 ? '' : 's'}${check}.${note ? `\n${note}` : ''}`,
      changedFiles: files,
      rounds,
    };
  }
}

export function createModelExecutor(config: ModelExecutorConfig): ModelExecutor {
  return new ModelExecutor(config);
}

/** The task prompt, the files as they are now, and (when the task names none) what files exist. */
function firstMessage(ctx: ExecutionContext, limits: FileLimits): string {
  const sections = [buildAgentPrompt(ctx.task)];
  if (ctx.task.files.length > 0) {
    sections.push(`## Current content of the task's files\n\n${renderFiles(readTaskFiles(ctx.cwd, ctx.task.files, limits, ctx.boardRoot))}`);
  } else {
    const listed = listFiles(ctx.cwd, MAX_LISTED_FILES);
    sections.push(`## Files in the repository${listed.length >= MAX_LISTED_FILES ? ` (first ${MAX_LISTED_FILES})` : ''}\n${listed.join('\n') || '(empty)'}\n\nYou cannot see their content; a FILE block replaces a file completely, so only use it for new files.`);
  }
  sections.push('Answer with edit blocks.');
  return sections.join('\n\n');
}

/** Workspace-relative file paths, breadth first, skipping dependency and build folders. */
function listFiles(root: string, limit: number): string[] {
  const found: string[] = [];
  const queue = [''];
  while (queue.length > 0 && found.length < limit) {
    const relative = queue.shift() as string;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, relative), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!UNLISTED_DIRECTORIES.has(entry.name)) queue.push(child);
      } else if (entry.isFile() && found.length < limit) {
        found.push(child);
      }
    }
  }
  return found;
}

function throwIfCancelled(ctx: ExecutionContext): void {
  if (ctx.signal.aborted) throw ExecutorError.cancelled(`Task ${ctx.task.id}`);
}

function uniqueFiles(files: string[]): string[] {
  return [...new Set(files)];
}

function charCount(messages: ChatMessage[]): number {
  return messages.reduce((sum, message) => sum + message.content.length, 0);
}

function describeUsage(response: ChatResponse): string {
  const parts = [
    response.model ? `model ${response.model}` : undefined,
    response.usage?.inputTokens !== undefined ? `${response.usage.inputTokens} tokens in` : undefined,
    response.usage?.outputTokens !== undefined ? `${response.usage.outputTokens} out` : undefined,
    response.stopReason ? `stop: ${response.stopReason}` : undefined,
  ].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** The model's words outside its edit blocks, shortened, for the task summary. */
function proseOf(reply: string): string {
  const prose = reply
    .replace(/<{5,9} (?:SEARCH|FILE|WHOLE FILE)[\s\S]*?>{5,9} (?:REPLACE|FILE|WHOLE FILE|END)/g, '')
    .replace(/^\s*(```|~~~)\w*\s*$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return prose.length > 600 ? `${prose.slice(0, 600)}…` : prose;
}

// ---- Keeping keys out of logs and results ------------------------------------------------------

const KEY_VARIABLES = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY'];
const REDACTED = '[redacted]';

/**
 * Replaces the values of the API key variables this executor may use wherever they appear. Servers
 * sometimes echo the key they rejected, and that text ends up in logs and error messages.
 */
function secretRedactor(config: ModelExecutorConfig, ctx: ExecutionContext): (text: string) => string {
  const env = { ...process.env, ...ctx.env };
  const names = [...KEY_VARIABLES, ...(config.apiKeyEnv ? [config.apiKeyEnv] : [])];
  const secrets = names.map((name) => env[name]?.trim()).filter((value): value is string => value !== undefined && value.length >= 8);
  if (secrets.length === 0) return (text) => text;
  return (text) => secrets.reduce((clean, secret) => clean.split(secret).join(REDACTED), text);
}

function redactError(error: unknown, redact: (text: string) => string): unknown {
  if (!(error instanceof Error)) return error;
  const message = redact(error.message);
  if (message === error.message) return error;
  if (error instanceof ExecutorError) return new ExecutorError(error.kind, message, { retryAt: error.retryAt, cancelled: error.cancelled });
  return new ExecutorError('transient', message);
}
