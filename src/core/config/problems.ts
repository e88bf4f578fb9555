// Turns JSON syntax errors and zod issues into problems a user can act on: the file, the path in
// the JSON, the line and column, and what was expected there.
import { findNodeAtLocation, type Node as JsonNode, type ParseError, printParseErrorCode } from 'jsonc-parser';
import type { z } from 'zod';
import { agentConfigSchema, commandConfigSchema, modelConfigSchema } from '../executors/config';
import { endpointLimitSchema, poolConfigSchema, sandboxConfigSchema, swarmConfigSchema, worktreeConfigSchema } from './schema';

export interface ConfigProblem {
  /** Absolute path of the file (or the name of a settings layer). */
  file: string;
  /** Where in the JSON, e.g. `executors.fast.timeoutMs`; empty for the whole document. */
  path: string;
  /** 1-based, when the position is known. */
  line?: number;
  column?: number;
  message: string;
}

export function formatConfigProblem(problem: ConfigProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.column ?? 1}`;
  return problem.path === '' ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}

/** `executors["my exec"].verify` style: dots for plain names, brackets for the rest. */
export function jsonPathText(segments: readonly (string | number)[]): string {
  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = 0; index < offset && index < text.length; index++) {
    if (text.charCodeAt(index) === 10) {
      line++;
      lineStart = index + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

export function syntaxProblems(file: string, text: string, errors: readonly ParseError[]): ConfigProblem[] {
  return errors.map((error) => ({
    file,
    path: '',
    ...positionOf(text, error.offset),
    message: `the file is not valid JSON (${printParseErrorCode(error.error)}); fix the syntax, the last valid configuration stays in force meanwhile`,
  }));
}

/** The nearest node that exists on the way to `segments` (a missing key points at its object). */
function nearestNode(root: JsonNode | undefined, segments: readonly (string | number)[]): JsonNode | undefined {
  if (!root) return undefined;
  for (let length = segments.length; length >= 0; length--) {
    const node = findNodeAtLocation(root, segments.slice(0, length) as (string | number)[]);
    if (node) return node.parent?.type === 'property' && length > 0 ? node.parent : node;
  }
  return root;
}

const SECRET_KEY = /^(api[_-]?key|key|token|secret|password)$/i;

function keysOf(schema: z.AnyZodObject): string[] {
  return Object.keys(schema.shape);
}

/** The keys allowed at `segments`, for "expected one of" in unknown-key messages. */
function knownKeysAt(segments: readonly (string | number)[], raw: unknown): string[] {
  const [first, second, third] = segments;
  if (segments.length === 0) return keysOf(swarmConfigSchema.innerType());
  if (first === 'pool' && segments.length === 1) return keysOf(poolConfigSchema);
  if (first === 'worktrees' && segments.length === 1) return keysOf(worktreeConfigSchema);
  if (first === 'sandbox' && segments.length === 1) return keysOf(sandboxConfigSchema);
  if (first === 'rateLimits' && segments.length === 2) return keysOf(endpointLimitSchema);
  if (first === 'executors' && segments.length === 2 && typeof second === 'string') {
    const entry = (raw as { executors?: Record<string, { type?: unknown }> } | undefined)?.executors?.[second];
    if (entry?.type === 'command') return keysOf(commandConfigSchema);
    if (entry?.type === 'agent') return keysOf(agentConfigSchema);
    if (entry?.type === 'model') return keysOf(modelConfigSchema.innerType());
  }
  if (first === 'executors' && third === 'verify') return ['command', 'timeoutMs'];
  if (first === 'verify' && segments.length === 1) return ['command', 'timeoutMs'];
  return [];
}

function issueMessage(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? `is required (expected ${issue.expected})` : `expected ${issue.expected}, found ${issue.received}`;
    case 'too_small':
      if (issue.type === 'string') return 'must not be empty';
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}`;
    case 'too_big':
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`;
    case 'invalid_union_discriminator':
      return `expected "type" to be one of ${issue.options.map((option) => JSON.stringify(option)).join(', ')}`;
    case 'invalid_enum_value':
      return `expected one of ${issue.options.map((option) => JSON.stringify(option)).join(', ')}, found ${JSON.stringify(issue.received)}`;
    case 'invalid_union':
      if (issue.path[issue.path.length - 1] === 'sandbox') return 'expected a mode ("auto", "required" or "off") or an object such as {"mode": "auto", "network": false}';
      return 'expected a command string or {"command": "...", "timeoutMs": N}';
    default:
      return issue.message;
  }
}

/**
 * A value that is an object but fails a "string or object" union (verify, sandbox) is reported with
 * the object branch's own issues (`sandbox.network: expected boolean`), not with the union's summary.
 */
function objectBranchIssues(issue: z.ZodIssue, raw: unknown): z.ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const value = issue.path.reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Record<string | number, unknown>)[key] : undefined), raw);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [issue];
  const branch = issue.unionErrors.find((candidate) => candidate.issues.every((inner) => inner.path.length > issue.path.length || inner.code === 'unrecognized_keys'));
  return branch ? branch.issues.flatMap((inner) => objectBranchIssues(inner, raw)) : [issue];
}

export function schemaProblems(file: string, text: string, root: JsonNode | undefined, raw: unknown, error: z.ZodError): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const locate = (segments: readonly (string | number)[]): { line?: number; column?: number } => {
    const node = nearestNode(root, segments);
    return node ? positionOf(text, node.offset) : {};
  };
  for (const issue of error.issues.flatMap((entry) => objectBranchIssues(entry, raw))) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path, raw);
      for (const key of issue.keys) {
        const segments = [...issue.path, key];
        const message = SECRET_KEY.test(key)
          ? 'looks like a secret; keys never go in swarm.config.json (it is shared and may be committed). Put it in an environment variable and name that with "apiKeyEnv", e.g. "apiKeyEnv": "OPENAI_API_KEY"'
          : `is not a known setting${known.length > 0 ? `; expected one of: ${known.join(', ')}` : ''}`;
        problems.push({ file, path: jsonPathText(segments), ...locate(segments), message });
      }
      continue;
    }
    problems.push({ file, path: jsonPathText(issue.path), ...locate(issue.path), message: issueMessage(issue) });
  }
  return problems;
}
