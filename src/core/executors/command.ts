// The `command` executor (any shell command template) and the `agent` executor (a coding-agent CLI
// preset, which is a command template plus usage-limit recognition).
import { resolveBatchLimit, type AgentExecutorConfig, type CommandExecutorConfig, type VerifyConfig } from './config';
import { inferOkExitCodePreset, okExitCodesOf } from './exitCodes';
import { AGENT_PRESETS } from './presets';
import { DEFAULT_USAGE_LIMIT_BACKOFF_MS, detectUsageLimit } from './usageLimit';
import { describeExit, formatDuration, runTemplate, tailOf, verifyOrThrow, type CommandRunResult } from './verify';
import { ExecutorError, type ExecutionContext, type ExecutionResult, type Executor } from './types';

export interface CommandExecutorOptions {
  name: string;
  template: string;
  timeoutMs: number;
  graceMs: number;
  verify?: VerifyConfig;
  env?: Record<string, string>;
  /** Recognise usage/rate-limit reports in the output. */
  detectRateLimits: boolean;
  /** Advice appended when the command is not found (exit 127). */
  notFoundHint?: string;
  /** Paths under $HOME the program writes its own state to (agent CLIs); writable in the sandbox. */
  homeState?: readonly string[];
  /** Exit codes besides 0 that still produce a result, and where they came from (for the log). */
  okExitCodes?: { codes: readonly number[]; origin: string };
  /** The most tasks one run may serve (see Executor.batchLimit); undefined: one. */
  batchLimit?: number;
}

export class CommandExecutor implements Executor {
  readonly name: string;
  readonly sandboxHomeState?: readonly string[];
  readonly batchLimit?: number;

  constructor(private readonly options: CommandExecutorOptions) {
    this.name = options.name;
    this.sandboxHomeState = options.homeState;
    if (options.batchLimit !== undefined && options.batchLimit > 1) this.batchLimit = options.batchLimit;
  }

  async execute(ctx: ExecutionContext): Promise<ExecutionResult> {
    const { template, timeoutMs, graceMs, env } = this.options;
    const result = await runTemplate({ template, timeoutMs, graceMs, env }, ctx);
    this.throwIfFailed(result, ctx);
    if (result.exitCode !== 0) ctx.log(`exit ${result.exitCode} still counts as a result (${this.options.okExitCodes?.origin})\n`);
    await verifyOrThrow(this.options.verify, ctx, env);
    return { summary: summarize(this.name, result) };
  }

  private acceptsExit(code: number | null): boolean {
    return code !== null && (this.options.okExitCodes?.codes.includes(code) ?? false);
  }

  private throwIfFailed(result: CommandRunResult, ctx: ExecutionContext): void {
    const { timeoutMs } = this.options;
    const { command } = result;
    if (result.aborted) throw ExecutorError.cancelled(`Task ${ctx.task.id}`);
    if (result.timedOut) {
      throw new ExecutorError('transient', `The command did not finish within ${formatDuration(timeoutMs)} and was killed with its process group: ${command}\n${tailOf(result)}\nRaise timeoutMs if it needs longer.`);
    }
    const failed = result.exitCode !== 0;
    if (this.options.detectRateLimits) {
      const report = detectUsageLimit(result.tail, { failed });
      if (report !== undefined) {
        const retryAt = report.retryAt ?? Date.now() + DEFAULT_USAGE_LIMIT_BACKOFF_MS;
        throw new ExecutorError('rate-limited', `${this.name} reported a usage or rate limit: "${report.evidence}". Retry after ${new Date(retryAt).toISOString()}.`, { retryAt });
      }
    }
    if (result.exitCode === 126 || result.exitCode === 127) {
      throw new ExecutorError('permanent', `The command could not run (exit ${result.exitCode}: not found or not executable): ${command}\n${tailOf(result)}\n${this.options.notFoundHint ?? 'Install the tool or fix the command in the executor settings.'}`);
    }
    if (failed && !this.acceptsExit(result.exitCode)) throw new ExecutorError('transient', `The command failed (${describeExit(result)}): ${command}\n${tailOf(result)}`);
  }
}

/** The configured codes, or the preset of the tool the template runs; none when it is not one. */
export function resolveOkExitCodes(template: string, setting: CommandExecutorConfig['okExitCodes']): { codes: readonly number[]; origin: string } | undefined {
  if (Array.isArray(setting)) return setting.length > 0 ? { codes: setting, origin: `okExitCodes ${JSON.stringify(setting)}` } : undefined;
  if (typeof setting === 'string') return { codes: okExitCodesOf(setting), origin: `okExitCodes "${setting}"` };
  const inferred = inferOkExitCodePreset(template);
  return inferred ? { codes: okExitCodesOf(inferred), origin: `the ${inferred} preset: problems left that it could not fix; set "okExitCodes": [] to fail instead` } : undefined;
}

/** The last lines of output: for agent CLIs that is their final report. */
function summarize(name: string, result: CommandRunResult): string {
  const tail = result.tail.trim();
  const lastWords = tail.length > 1_000 ? `…${tail.slice(-1_000)}` : tail;
  const header = `${name} finished in ${formatDuration(result.durationMs)}.`;
  return lastWords === '' ? header : `${header}\n${lastWords}`;
}

export function createCommandExecutor(config: CommandExecutorConfig): CommandExecutor {
  return new CommandExecutor({
    name: 'command',
    template: config.command,
    timeoutMs: config.timeoutMs,
    graceMs: config.graceMs,
    verify: config.verify,
    env: config.env,
    detectRateLimits: config.detectRateLimits,
    okExitCodes: resolveOkExitCodes(config.command, config.okExitCodes),
    batchLimit: resolveBatchLimit(config),
  });
}

export function createAgentExecutor(config: AgentExecutorConfig): CommandExecutor {
  const preset = AGENT_PRESETS[config.agent];
  const base = config.command ?? preset.template;
  return new CommandExecutor({
    name: preset.name,
    template: config.extraArgs ? `${base} ${config.extraArgs}` : base,
    timeoutMs: config.timeoutMs,
    graceMs: config.graceMs,
    verify: config.verify,
    env: config.env,
    detectRateLimits: true,
    homeState: preset.homeState,
    notFoundHint: `Is ${preset.binary} installed and on the PATH of the agent process? See ${preset.docs}.`,
  });
}
