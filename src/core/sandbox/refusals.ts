// A write the sandbox refused reaches the command as EROFS ("Read-only file system") on Linux or
// EPERM ("Operation not permitted") under sandbox-exec; tools print it in their own words. This
// reads those lines as the output streams and names the refused paths, so the task's log and error
// can say what happened and how to allow it, instead of leaving a bare tool error.
import * as path from 'node:path';
import type { SandboxTool } from './types';

const MAX_PATHS = 20;
const MAX_SHOWN = 10;
const MAX_LINE_CHARS = 4_000;

/** Linux: any line about EROFS. */
const READ_ONLY_LINE = /read-only file system|\bEROFS\b|errno 30\b|os error 30\b/i;
/** macOS sandbox-exec denials (EPERM); only looked at when that tool runs. */
const NOT_PERMITTED_LINE = /operation not permitted|\bEPERM\b/i;

/** The path a tool names in a refusal line, in the forms coreutils, shells, git, Node, Python, Go and npm use. */
const PATH_FORMS: readonly RegExp[] = [
  /'([^']+)'/, // touch: cannot touch '/x': ...; Node: EROFS: ..., open '/x'; Python: [Errno 30] ...: '/x'
  /"([^"]+)"/,
  /‘([^’]+)’/, // coreutils with a UTF-8 locale
  /cannot create ([^:]+): /, // dash: sh: 1: cannot create /x: Read-only file system (spaces allowed)
  /could not lock config file ([^:]+): /, // git config
  /([^\s:'"]*[/.][^\s:'"]*): (?:read-only file system|operation not permitted)/i, // bash, Go (open /x: read-only file system), BSD tools
  /(\/[^\s:'"]+)/, // last resort: the first absolute path on the line
];

export class RefusalCollector {
  private readonly paths = new Set<string>();
  private partial = '';

  constructor(
    private readonly cwd: string,
    private readonly tool: SandboxTool,
  ) {}

  /** Feeds output as it streams; lines may be split across chunks. */
  write(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = (lines.pop() ?? '').slice(-MAX_LINE_CHARS);
    for (const line of lines) this.readLine(line);
  }

  /** The refused paths, in the order they were first reported. */
  finish(): string[] {
    if (this.partial) this.readLine(this.partial);
    this.partial = '';
    return [...this.paths];
  }

  private readLine(line: string): void {
    if (this.paths.size >= MAX_PATHS) return;
    const text = line.slice(0, MAX_LINE_CHARS);
    const refused = READ_ONLY_LINE.test(text) || (this.tool === 'sandbox-exec' && NOT_PERMITTED_LINE.test(text));
    if (!refused) return;
    const named = refusedPathOf(text);
    if (named) this.paths.add(path.resolve(this.cwd, named));
  }
}

export function refusedPathOf(line: string): string | undefined {
  for (const form of PATH_FORMS) {
    const match = form.exec(line);
    const candidate = match?.[1]?.trim();
    if (candidate && looksLikePath(candidate)) return candidate;
  }
  return undefined;
}

function looksLikePath(text: string): boolean {
  return text.length > 0 && text.length < 4096 && !text.includes('\n');
}

/**
 * "The sandbox refused a write to PATH (outside this task's worktree)." per path, and how to allow
 * one. Empty when nothing was refused.
 */
export function describeRefusals(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  const shown = paths.slice(0, MAX_SHOWN).map((refused) => `The sandbox refused a write to ${refused} (outside this task's worktree).`);
  if (paths.length > MAX_SHOWN) shown.push(`… and ${paths.length - MAX_SHOWN} more refused path(s).`);
  shown.push(ALLOW_HINT);
  return shown.join('\n');
}

export const ALLOW_HINT =
  'To allow writes there, add the folder to "sandbox": { "allowWrite": [...] } in swarm.config.json (in VS Code, the sandbox allow-write setting), ' +
  'or run without the sandbox (swarm run --sandbox off; "sandbox": "off").';
