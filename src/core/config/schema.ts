// The project configuration file, `swarm.config.json` at the workspace root. One file read by the
// CLI and the extension; VS Code settings and CLI flags override it (see ./resolve.ts).
// The JSON schema in schemas/swarm.config.schema.json is generated from this zod schema
// (schemas/generate.ts) and a unit test keeps the two in step.
import { z } from 'zod';
import { agentConfigSchema, commandConfigSchema, modelConfigSchema } from '../executors/config';
import { AGENT_NAMES } from '../executors/presets';
import { DEFAULT_CACHE_DIRS, SANDBOX_MODES, type SandboxMode } from '../sandbox/types';

export const CONFIG_FILE_NAME = 'swarm.config.json';

const milliseconds = z.number().int().positive();

/** The longest a shared board keeps the bundles of ended tasks (`keepResultsDays`, `swarm run --keep-results`). */
export const MAX_KEEP_RESULTS_DAYS = 3650;
const megabytes = z.number().positive();

const verifySchema = z
  .union([
    z.string().min(1, 'must be a command, e.g. "npm test"'),
    z.object({ command: z.string().min(1), timeoutMs: milliseconds.optional() }).strict(),
  ])
  .describe('Command run in the task directory after the executor (e.g. "npm test"); a failure fails the attempt.');

/** A model executor needs a model id unless the VS Code host picks it. */
function requireModelId(entry: { type: string; provider?: string; model?: string }, issues: z.RefinementCtx): void {
  if (entry.type === 'model' && entry.provider !== 'host' && entry.model === undefined) {
    issues.addIssue({ code: z.ZodIssueCode.custom, path: ['model'], message: `is required for provider "${entry.provider}" (e.g. "gpt-4o-mini" or "claude-sonnet-4-5")` });
  }
}

export const executorEntrySchema = z
  .discriminatedUnion('type', [commandConfigSchema, agentConfigSchema, modelConfigSchema.innerType()])
  .superRefine(requireModelId)
  .describe('An executor: {"type":"agent","agent":"claude"}, {"type":"command","command":"eslint --fix {files}"} or {"type":"model","provider":"openai","model":"gpt-4o-mini"}.');

const executorName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a name of letters, digits, ".", "_" or "-"');

export const poolConfigSchema = z
  .object({
    minAgents: z.number().int().min(0).max(64).optional().describe('Agents kept alive while idle (default 0).'),
    maxAgents: z.number().int().min(1).max(64).optional().describe('Most agents at once (default min(4, CPU count)).'),
    agentsPerProcess: z.union([z.number().int().min(1).max(64), z.literal('auto')]).optional().describe('Most agents one agent process hosts: a number, or "auto" (up to 4 per process, more where agents outnumber 4 per CPU core). Default auto.'),
    idleTimeoutMs: milliseconds.optional().describe('Idle agents above minAgents exit after this long (default 60000).'),
    leaseMs: milliseconds.optional().describe('Task lease; agents heartbeat every third of it (default 30000).'),
    agentMemoryMB: megabytes.optional().describe('An agent (with its executor processes) above this memory is stopped and its task retried.'),
    totalMemoryMB: megabytes.optional().describe('No new agent starts while all agents together use more than this.'),
    maxCpuPercent: z.number().positive().max(100_000).optional().describe('No new agent starts while the agents use more CPU than this (100 = one core).'),
    keepResultsDays: z
      .number()
      .positive()
      .max(MAX_KEEP_RESULTS_DAYS)
      .optional()
      .describe('Shared board: days the bundles of ended tasks (results to review or follow up, a dead task\'s work) stay on the board before runners remove them (default 7; swarm run --keep-results overrides it).'),
  })
  .strict();

export const worktreeConfigSchema = z
  .object({
    include: z
      .array(z.string().min(1))
      .optional()
      .describe('Ignored paths every worktree gets (directories symlinked, files copied), e.g. ["node_modules", ".env"].'),
    setupCommand: z.string().min(1).optional().describe('Shell command run once in every new worktree, e.g. "npm ci".'),
    maxSlots: z.number().int().min(1).max(256).optional().describe('Most worktrees kept at once.'),
    diskBudgetMB: megabytes.optional().describe('Disk budget for all worktrees together; least recently used idle ones are removed above it.'),
    dir: z
      .string()
      .regex(/^(\/|~(\/|$))/, 'must be an absolute path or start with ~/')
      .optional()
      .describe('Folder for this repository\'s worktrees (absolute, or ~/...); default ~/.cache/agent-swarm/worktrees/<repo>-<hash>. Never inside the checkout.'),
    keepIdleSlots: z.boolean().optional().describe('Keep idle worktrees registered when a run ends, warm for the next one (default false: their files are parked outside git worktree list and taken over by the next run; a setup command makes them removed instead).'),
  })
  .strict();

const sandboxMode = z
  .enum(SANDBOX_MODES as [SandboxMode, ...SandboxMode[]])
  .describe('"auto" (default): sandbox every command where the platform tool works (bubblewrap on Linux), say once when not; "required": refuse to run without one; "off": no sandbox (changes outside the worktree are detected and flagged).');

const sandboxPath = z.string().regex(/^(\/|~(\/|$))/, 'must be an absolute path or start with ~/');

export const sandboxConfigSchema = z
  .object({
    mode: sandboxMode.optional(),
    network: z.boolean().optional().describe('Network access for sandboxed commands (default true: agent CLIs call their APIs).'),
    cacheDirs: z
      .array(z.string().min(1))
      .optional()
      .describe(`Folders under $HOME (or absolute) commands may write, replacing the default list: ${DEFAULT_CACHE_DIRS.join(', ')}.`),
    allowWrite: z.array(sandboxPath).optional().describe('Further folders or files commands may write (absolute, or ~/...). Never opens the checkout, the repository\'s .git, other worktrees or the board.'),
  })
  .strict();

export const endpointLimitSchema = z
  .object({
    concurrency: z.number().int().min(1).max(1_000).optional().describe('Requests in flight at once to this endpoint.'),
    requestsPerMinute: z.number().int().min(1).optional().describe('Requests started per minute (no cap when absent).'),
  })
  .strict();

export const swarmConfigSchema = z
  .object({
    $schema: z.string().optional(),
    executors: z
      .record(executorName, executorEntrySchema)
      .optional()
      .describe('Named executors; pick one with defaultExecutor, `swarm run --executor NAME` or the agentSwarm.executor setting.'),
    defaultExecutor: z.string().min(1).optional().describe(`Name of an entry in "executors", or an agent CLI: ${AGENT_NAMES.join(', ')}.`),
    verify: verifySchema.optional(),
    pool: poolConfigSchema.optional(),
    worktrees: worktreeConfigSchema.optional(),
    sandbox: z.union([sandboxMode, sandboxConfigSchema]).optional().describe('The wall around agent commands: a mode ("auto", "required", "off") or { "mode", "network", "cacheDirs", "allowWrite" }. See docs/sandbox.md.'),
    rateLimits: z
      .record(z.string().min(1), endpointLimitSchema)
      .optional()
      .describe('Per model endpoint ("<provider>:<baseUrl>", or a model executor\'s endpointKey): one budget shared by all agents.'),
  })
  .strict()
  .superRefine((config, issues) => {
    const name = config.defaultExecutor;
    if (name !== undefined && !(name in (config.executors ?? {})) && !(AGENT_NAMES as readonly string[]).includes(name)) {
      const known = [...Object.keys(config.executors ?? {}), ...AGENT_NAMES];
      issues.addIssue({ code: z.ZodIssueCode.custom, path: ['defaultExecutor'], message: `"${name}" is neither an entry in "executors" nor an agent CLI; expected one of: ${known.join(', ')}` });
    }
    const pool = config.pool;
    if (pool?.minAgents !== undefined && pool.maxAgents !== undefined && pool.minAgents > pool.maxAgents) {
      issues.addIssue({ code: z.ZodIssueCode.custom, path: ['pool', 'minAgents'], message: `must not exceed pool.maxAgents (${pool.maxAgents})` });
    }
  });

/** The validated configuration (executor defaults filled in). */
export type SwarmConfig = z.output<typeof swarmConfigSchema>;
/** What users write. */
export type SwarmConfigInput = z.input<typeof swarmConfigSchema>;
export type ExecutorEntry = z.output<typeof executorEntrySchema>;
export type PoolConfig = z.output<typeof poolConfigSchema>;
export type WorktreeConfig = z.output<typeof worktreeConfigSchema>;
export type SandboxConfig = z.output<typeof sandboxConfigSchema>;
export type EndpointLimitConfig = z.output<typeof endpointLimitSchema>;
