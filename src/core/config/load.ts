// Reads swarm.config.json. Comments and trailing commas are tolerated (VS Code users write them);
// every problem names the file, the JSON path and what was expected. In an untrusted workspace
// the fields that name commands are dropped, each with the reason, because a cloned repository
// must not be able to run commands just by being opened.
import fs from 'node:fs';
import path from 'node:path';
import { getNodeValue, type ParseError, parseTree } from 'jsonc-parser';
import { type ConfigProblem, schemaProblems, syntaxProblems } from './problems';
import { CONFIG_FILE_NAME, type SwarmConfig, swarmConfigSchema } from './schema';

export interface IgnoredSetting {
  /** JSON path of the dropped field, e.g. `executors.lint` or `worktrees.setupCommand`. */
  path: string;
  reason: string;
}

export interface SwarmConfigLoad {
  /** The validated configuration; `{}` when there is no file; undefined when the file is invalid. */
  config: SwarmConfig | undefined;
  /** `file` when swarm.config.json exists (valid or not), `none` when it does not. */
  source: 'file' | 'none';
  file: string;
  errors: ConfigProblem[];
  /** Fields dropped because the workspace is not trusted. */
  ignored: IgnoredSetting[];
}

export interface LoadOptions {
  /** Workspace trust (VS Code); the CLI runs with the user's own authority and passes true. */
  trusted: boolean;
}

export function configFilePath(workspaceRoot: string): string {
  return path.join(workspaceRoot, CONFIG_FILE_NAME);
}

export function loadSwarmConfig(workspaceRoot: string, options: LoadOptions): SwarmConfigLoad {
  const file = configFilePath(workspaceRoot);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { config: {}, source: 'none', file, errors: [], ignored: [] };
    const reason = (error as Error).message;
    return { config: undefined, source: 'file', file, errors: [{ file, path: '', message: `cannot be read (${reason}); check its permissions` }], ignored: [] };
  }
  return { ...parseSwarmConfigText(file, text, options), source: 'file', file };
}

/** Validates the text of a configuration file; `file` is only used in the problems. */
export function parseSwarmConfigText(file: string, text: string, options: LoadOptions): Pick<SwarmConfigLoad, 'config' | 'errors' | 'ignored'> {
  const parseErrors: ParseError[] = [];
  const root = parseTree(text, parseErrors, { allowTrailingComma: true, disallowComments: false });
  if (parseErrors.length > 0 || root === undefined) {
    const errors = parseErrors.length > 0 ? syntaxProblems(file, text, parseErrors) : [{ file, path: '', message: 'the file is empty; write a JSON object such as {"defaultExecutor": "claude"}' }];
    return { config: undefined, errors, ignored: [] };
  }
  const raw: unknown = getNodeValue(root);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { config: undefined, errors: [{ file, path: '', line: 1, column: 1, message: 'expected a JSON object at the top level, such as {"defaultExecutor": "claude"}' }], ignored: [] };
  }
  const parsed = swarmConfigSchema.safeParse(raw);
  if (!parsed.success) return { config: undefined, errors: schemaProblems(file, text, root, raw, parsed.error), ignored: [] };
  if (options.trusted) return { config: parsed.data, errors: [], ignored: [] };
  return { ...withoutCommands(parsed.data), errors: [] };
}

const UNTRUSTED = 'ignored because the workspace is not trusted: it names a command, and commands from the workspace run only after you trust it (Workspaces: Manage Workspace Trust)';
const UNTRUSTED_URL = 'ignored because the workspace is not trusted: it would send your code to a server the workspace names';

/** The configuration minus every field that runs a command (or sends code somewhere) on its say-so. */
export function withoutCommands(config: SwarmConfig): { config: SwarmConfig; ignored: IgnoredSetting[] } {
  const ignored: IgnoredSetting[] = [];
  const safe: SwarmConfig = { ...config };
  if (safe.verify !== undefined) {
    delete safe.verify;
    ignored.push({ path: 'verify', reason: UNTRUSTED });
  }
  if (safe.worktrees?.setupCommand !== undefined) {
    safe.worktrees = { ...safe.worktrees };
    delete safe.worktrees.setupCommand;
    ignored.push({ path: 'worktrees.setupCommand', reason: UNTRUSTED });
  }
  if (safe.executors) {
    const executors: NonNullable<SwarmConfig['executors']> = {};
    for (const [name, entry] of Object.entries(safe.executors)) {
      const at = `executors.${name}`;
      if (entry.type === 'command') {
        ignored.push({ path: at, reason: UNTRUSTED });
        continue;
      }
      const kept = { ...entry };
      for (const field of ['command', 'extraArgs', 'verify', 'env'] as const) {
        if (field in kept && (kept as Record<string, unknown>)[field] !== undefined) {
          delete (kept as Record<string, unknown>)[field];
          ignored.push({ path: `${at}.${field}`, reason: field === 'env' ? `${UNTRUSTED.replace('it names a command', 'environment variables (PATH, NODE_OPTIONS) can run commands')}` : UNTRUSTED });
        }
      }
      if (kept.type === 'model' && kept.baseUrl !== undefined) {
        delete kept.baseUrl;
        ignored.push({ path: `${at}.baseUrl`, reason: UNTRUSTED_URL });
      }
      executors[name] = kept;
    }
    safe.executors = executors;
    if (safe.defaultExecutor !== undefined && safe.defaultExecutor in config.executors! && !(safe.defaultExecutor in executors)) {
      ignored.push({ path: 'defaultExecutor', reason: `ignored: it names executors.${safe.defaultExecutor}, which was dropped because the workspace is not trusted` });
      delete safe.defaultExecutor;
    }
  }
  return { config: safe, ignored };
}
