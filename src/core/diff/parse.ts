// Reading git patches without applying them: which files a patch touches (with renames) and which
// line ranges its hunks cover. Paths come from the unambiguous header lines (`rename from`, `---`,
// `+++`), un-quoted the way git quotes them, so a crafted name cannot hide a `..` or `.git`.
import { SwarmUserError } from '../errors';

export interface PatchSection {
  /** Path after the change (workspace-relative, as written in the patch). */
  path: string;
  /** Path before the change, when it differs (renames and copies). */
  from?: string;
  status: 'added' | 'modified' | 'deleted' | 'renamed';
  binary: boolean;
  /** Hunks in the coordinates of the original file: [start, start + length). */
  hunks: Array<{ oldStart: number; oldLines: number; newStart: number; newLines: number }>;
  additions: number;
  deletions: number;
  /** The section's text, from its `diff --git` line up to the next one. */
  text: string;
}

export function parsePatch(text: string): PatchSection[] {
  const lines = text.split('\n');
  const starts: number[] = [];
  lines.forEach((line, index) => {
    if (line.startsWith('diff --git ')) starts.push(index);
  });
  if (starts.length === 0 && text.trim().length > 0) throw new PatchParseError('The patch has no `diff --git` sections; only git patches can be applied.');
  return starts.map((start, i) => parseSection(lines.slice(start, i + 1 < starts.length ? starts[i + 1] : lines.length)));
}

export class PatchParseError extends SwarmUserError {
  constructor(message: string) {
    super('refused', message);
    this.name = 'PatchParseError';
  }
}

function parseSection(lines: string[]): PatchSection {
  let oldPath: string | undefined;
  let newPath: string | undefined;
  let renameFrom: string | undefined;
  let renameTo: string | undefined;
  let added = false;
  let deleted = false;
  let binary = false;
  const hunks: PatchSection['hunks'] = [];
  let additions = 0;
  let deletions = 0;
  let inHunk = false;
  for (const line of lines.slice(1)) {
    const hunk = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (hunk) {
      inHunk = true;
      hunks.push({ oldStart: Number(hunk[1]), oldLines: hunk[2] === undefined ? 1 : Number(hunk[2]), newStart: Number(hunk[3]), newLines: hunk[4] === undefined ? 1 : Number(hunk[4]) });
      continue;
    }
    if (inHunk) {
      if (line.startsWith('+')) additions += 1;
      else if (line.startsWith('-')) deletions += 1;
      continue;
    }
    if (line.startsWith('--- ')) oldPath = stripPrefix(unquote(line.slice(4)), 'a/');
    else if (line.startsWith('+++ ')) newPath = stripPrefix(unquote(line.slice(4)), 'b/');
    else if (line.startsWith('rename from ') || line.startsWith('copy from ')) renameFrom = unquote(line.slice(line.indexOf(' from ') + 6));
    else if (line.startsWith('rename to ') || line.startsWith('copy to ')) renameTo = unquote(line.slice(line.indexOf(' to ') + 4));
    else if (line.startsWith('new file mode')) added = true;
    else if (line.startsWith('deleted file mode')) deleted = true;
    else if (line === 'GIT binary patch' || line.startsWith('Binary files ')) binary = true;
  }
  const header = headerPaths(lines[0]);
  const before = renameFrom ?? (oldPath === '/dev/null' ? undefined : oldPath) ?? header?.[0];
  const after = renameTo ?? (newPath === '/dev/null' ? undefined : newPath) ?? header?.[1];
  const target = deleted ? before : after;
  if (!target) throw new PatchParseError(`Cannot read the file name of patch section "${lines[0]}".`);
  const status: PatchSection['status'] = added ? 'added' : deleted ? 'deleted' : renameFrom !== undefined || (before !== undefined && before !== after) ? 'renamed' : 'modified';
  const section: PatchSection = { path: target, status, binary, hunks, additions, deletions, text: lines.join('\n') };
  if (status === 'renamed' && before) section.from = before;
  return section;
}

/** `diff --git a/X b/Y`: only used when no other header names the file (mode-only, empty, binary). */
function headerPaths(line: string): [string, string] | undefined {
  const rest = line.slice('diff --git '.length);
  if (rest.startsWith('"')) {
    const first = readQuoted(rest);
    const second = rest.slice(first.length + 1).trim();
    return [stripPrefix(unquote(first), 'a/'), stripPrefix(unquote(second), 'b/')];
  }
  // Unquoted and symmetric: "a/P b/P".
  if ((rest.length - 1) % 2 !== 0) return undefined;
  const half = (rest.length - 1) / 2;
  const a = rest.slice(0, half);
  const b = rest.slice(half + 1);
  if (!a.startsWith('a/') || !b.startsWith('b/') || a.slice(2) !== b.slice(2)) return undefined;
  return [a.slice(2), b.slice(2)];
}

function readQuoted(text: string): string {
  for (let i = 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return text.slice(0, i + 1);
  }
  return text;
}

function stripPrefix(name: string, prefix: string): string {
  if (name === '/dev/null') return name;
  const trimmed = name.replace(/\t.*$/, '');
  return trimmed.startsWith(prefix) ? trimmed.slice(prefix.length) : trimmed;
}

const ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** Git's C-style quoting: "dir/\303\251t\303\251.txt" → dir/été.txt. Unquoted names are returned as is. */
export function unquote(name: string): string {
  const trimmed = name.trimEnd();
  if (!trimmed.startsWith('"') || !trimmed.endsWith('"') || trimmed.length < 2) return trimmed;
  const bytes: number[] = [];
  const body = trimmed.slice(1, -1);
  for (let i = 0; i < body.length; i += 1) {
    const ch = body[i];
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = body[i + 1];
    if (/[0-7]/.test(next)) {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** True when two hunk lists of the same original file touch overlapping or adjacent lines. */
export function hunksOverlap(a: PatchSection['hunks'], b: PatchSection['hunks']): boolean {
  return a.some((x) =>
    b.some((y) => {
      const xEnd = x.oldStart + Math.max(x.oldLines, 1);
      const yEnd = y.oldStart + Math.max(y.oldLines, 1);
      // Adjacent hunks conflict in a three-way merge too, hence <= rather than <.
      return x.oldStart <= yEnd && y.oldStart <= xEnd;
    }),
  );
}
