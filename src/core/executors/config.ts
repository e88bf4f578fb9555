// Executor configuration: plain JSON from CLI flags, VS Code settings or swarm.config.json,
// validated here so a typo is reported with the field to fix instead of failing mid-run.
import { z } from 'zod';
import { OK_EXIT_CODE_PRESET_NAMES, type OkExitCodePreset } from './exitCodes';
import { AGENT_NAMES, type AgentName } from './presets';
import { whyNotBatchable } from './template';
import { ExecutorError } from './types';

/** The most tasks one run of a command may serve (`batch`); "auto" stops at DEFAULT_BATCH_TASKS. */
export const MAX_BATCH_TASKS = 1_000;
export const DEFAULT_BATCH_TASKS = 64;
const BATCH_MESSAGE = `must be "auto", false, or the most tasks per command (a whole number from 1 to ${MAX_BATCH_TASKS})`;

const milliseconds = z.number().int().positive();
const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the NAME of an environment variable, like OPENAI_API_KEY');

const verifySchema = z.union([
  z.string().min(1, 'must be a command, e.g. "npm test"'),
  z.object({ command: z.string().min(1), timeoutMs: milliseconds.optional() }).strict(),
]);

const common = {
  /** Runs in the task's directory after the executor; a failure fails the attempt. */
  verify: verifySchema.optional(),
  /** Extra environment for the commands this executor runs. */
  env: z.record(z.string()).optional(),
};

export const commandConfigSchema = z
  .object({
    type: z.literal('command'),
    command: z.string().min(1, 'must be a command template, e.g. "eslint --fix {files}"'),
    timeoutMs: milliseconds.default(10 * 60_000),
    graceMs: milliseconds.default(5_000),
    /** Treat usage/rate-limit reports in the output as rate-limited failures (for custom agent CLIs). */
    detectRateLimits: z.boolean().default(false),
    /**
     * Exit codes besides 0 that still produce a result (a linter's "fixed what it could, problems
     * left"): a list, or a preset name (eslint, prettier, ruff, ...). Default: the preset of the tool
     * the command runs, if it is one of them; [] for none.
     */
    okExitCodes: z
      .union([z.array(z.number().int().min(1).max(255)), z.enum(OK_EXIT_CODE_PRESET_NAMES as [OkExitCodePreset, ...OkExitCodePreset[]])], {
        errorMap: () => ({ message: `must be a list of exit codes like [1], or one of ${OK_EXIT_CODE_PRESET_NAMES.join(', ')}` }),
      })
      .optional(),
    /**
     * Several tasks of one map in one run of the command (see docs/pool.md, "Batches"): "auto" when
     * the template depends on the task only through {files}, false never, a number as the most tasks
     * per run.
     */
    batch: z
      .union([z.literal('auto'), z.literal(false), z.number().int(BATCH_MESSAGE).min(1, BATCH_MESSAGE).max(MAX_BATCH_TASKS, BATCH_MESSAGE)], { errorMap: () => ({ message: BATCH_MESSAGE }) })
      .default('auto'),
    ...common,
  })
  .strict();

export const agentConfigSchema = z
  .object({
    type: z.literal('agent'),
    agent: z.enum(AGENT_NAMES as [AgentName, ...AgentName[]]),
    /** Shell text appended to the preset's command, e.g. "--model sonnet". */
    extraArgs: z.string().optional(),
    /** Replaces the preset's command template entirely. */
    command: z.string().min(1).optional(),
    timeoutMs: milliseconds.default(30 * 60_000),
    graceMs: milliseconds.default(5_000),
    ...common,
  })
  .strict();

export const modelConfigSchema = z
  .object({
    type: z.literal('model'),
    provider: z.enum(['openai', 'anthropic', 'host']),
    /** Model id; for `host`, a vscode.lm id or family (the host's default when omitted). */
    model: z.string().min(1).optional(),
    /** OpenAI-compatible: up to and including /v1 (default https://api.openai.com/v1). Anthropic: without /v1. */
    baseUrl: z.string().url().optional(),
    /** Name of the environment variable holding the API key. Keys never appear in config. */
    apiKeyEnv: envVarName.optional(),
    maxRounds: z.number().int().min(1).max(20).default(3),
    maxTokens: z.number().int().positive().default(4_096),
    temperature: z.number().min(0).max(2).optional(),
    requestTimeoutMs: milliseconds.default(120_000),
    /** Extra tries of one request after 429, 5xx or a dropped connection. */
    retries: z.number().int().min(0).max(10).default(2),
    /** A Retry-After longer than this fails the attempt as rate-limited instead of waiting inside it. */
    maxInlineWaitMs: milliseconds.default(60_000),
    maxFileBytes: z.number().int().positive().default(100_000),
    maxTotalBytes: z.number().int().positive().default(400_000),
    /** Rate-limiter key; defaults to `<provider>:<baseUrl>`, so agents sharing an endpoint share its budget. */
    endpointKey: z.string().min(1).optional(),
    ...common,
  })
  .strict()
  .superRefine((config, issues) => {
    if (config.provider !== 'host' && config.model === undefined) {
      issues.addIssue({ code: z.ZodIssueCode.custom, path: ['model'], message: `is required for provider "${config.provider}" (e.g. "gpt-4o-mini" or "claude-sonnet-4-5")` });
    }
  });

export const executorConfigSchema = z.discriminatedUnion('type', [commandConfigSchema, agentConfigSchema, modelConfigSchema.innerType()]);

export type CommandExecutorConfig = z.output<typeof commandConfigSchema>;
export type AgentExecutorConfig = z.output<typeof agentConfigSchema>;
export type ModelExecutorConfig = z.output<typeof modelConfigSchema>;
/** The validated form, defaults filled in. */
export type ExecutorConfig = CommandExecutorConfig | AgentExecutorConfig | ModelExecutorConfig;
/** What users write. */
export type ExecutorConfigInput = z.input<typeof commandConfigSchema> | z.input<typeof agentConfigSchema> | z.input<typeof modelConfigSchema>;
export type VerifyConfig = z.output<typeof verifySchema>;

/** Validates `raw`, throwing a permanent ExecutorError that names every field to fix. */
export function parseExecutorConfig(raw: unknown): ExecutorConfig {
  refuseInlineKeys(raw);
  const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
  const schema = type === 'model' ? modelConfigSchema : executorConfigSchema;
  const parsed = schema.safeParse(raw);
  if (parsed.success && parsed.data.type === 'command') resolveBatchLimit(parsed.data); // refuses a batch the command cannot serve
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `- ${issue.path.length > 0 ? issue.path.join('.') : 'executor'}: ${issue.message}`);
  throw new ExecutorError('permanent', `The executor configuration is invalid:\n${problems.join('\n')}\nFix it in the executor settings (see docs/executors.md for examples).`);
}

function refuseInlineKeys(raw: unknown): void {
  if (typeof raw !== 'object' || raw === null) return;
  const inline = Object.keys(raw).find((key) => /^(api[_-]?key|key|token|secret)$/i.test(key));
  if (inline === undefined) return;
  throw new ExecutorError(
    'permanent',
    `The executor configuration contains "${inline}". API keys never go in configuration (it is shared and may be committed). ` +
      'Put the key in an environment variable and name it with "apiKeyEnv", e.g. "apiKeyEnv": "OPENAI_API_KEY".',
  );
}

/**
 * Short forms for command lines: an agent name (`claude`), `command:<template>`, or JSON.
 * Anything else is a permanent error listing the accepted forms.
 */
export function parseExecutorShorthand(text: string): ExecutorConfig {
  const trimmed = text.trim();
  if ((AGENT_NAMES as readonly string[]).includes(trimmed)) return parseExecutorConfig({ type: 'agent', agent: trimmed });
  if (trimmed.startsWith('command:')) return parseExecutorConfig({ type: 'command', command: trimmed.slice('command:'.length).trim() });
  if (trimmed.startsWith('{')) {
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch (error) {
      throw new ExecutorError('permanent', `The executor JSON does not parse: ${(error as Error).message}`);
    }
    return parseExecutorConfig(raw);
  }
  throw new ExecutorError(
    'permanent',
    `Unknown executor "${trimmed}". Use an agent name (${AGENT_NAMES.join(', ')}), "command:<template>", or a JSON object (see docs/executors.md).`,
  );
}

/**
 * How many tasks one run of a command may serve: "auto" batches a template (and verify) that
 * depends on the task only through {files}; a number asks for it, and a template that cannot be
 * batched is refused with what to change.
 */
export function resolveBatchLimit(config: Pick<CommandExecutorConfig, 'command' | 'verify' | 'batch'>): number | undefined {
  if (config.batch === false || config.batch === 1) return undefined;
  const verify = typeof config.verify === 'string' ? config.verify : config.verify?.command;
  const why = whyNotBatchable(config.command) ?? (verify === undefined ? undefined : whyNotBatchableVerify(verify));
  if (why === undefined) return config.batch === 'auto' ? DEFAULT_BATCH_TASKS : config.batch;
  if (config.batch === 'auto') return undefined;
  throw new ExecutorError('permanent', `"batch": ${config.batch} needs a command that depends on the task only through {files}, but ${why}; set "batch" to false to run one task per command.`);
}

/** A verify may name no files at all (`npm test`); it must not name anything else of the task. */
function whyNotBatchableVerify(verify: string): string | undefined {
  const why = whyNotBatchable(verify, { needsFiles: false });
  return why === undefined ? undefined : `its verify command ${why.replace(/^it /, '')}`;
}
