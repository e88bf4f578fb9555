// The edit format the model answers in, and applying it. SEARCH/REPLACE blocks follow aider's
// format (https://aider.chat/docs/more/edit-formats.html): the file path alone on a line, then
//   <<<<<<< SEARCH / lines to find / ======= / lines to put instead / >>>>>>> REPLACE
// A whole file can be sent as <<<<<<< FILE ... >>>>>>> FILE after its path. Matching is exact
// first, then tolerant of indentation and trailing whitespace; a block that matches nothing (or
// more than one place) is not applied and its failure goes back to the model.
import fs from 'node:fs';
import path from 'node:path';
import { resolveInside } from './files';

export type EditBlock =
  | { kind: 'replace'; path: string; search: string[]; replace: string[] }
  | { kind: 'whole'; path: string; content: string[] };

export interface ParsedEdits {
  blocks: EditBlock[];
  /** Malformed blocks, described for the model. */
  problems: string[];
}

const SEARCH_START = /^\s*<{5,9} SEARCH\s*$/;
const DIVIDER = /^\s*={5,9}\s*$/;
const REPLACE_END = /^\s*>{5,9} REPLACE\s*$/;
const FILE_START = /^\s*<{5,9} (?:FILE|WHOLE FILE)\s*$/;
const FILE_END = /^\s*>{5,9} (?:FILE|WHOLE FILE|END)\s*$/;
const FENCE = /^\s*(```|~~~)/;

export function parseEditBlocks(text: string): ParsedEdits {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const blocks: EditBlock[] = [];
  const problems: string[] = [];
  let lastPath: string | undefined;
  for (let index = 0; index < lines.length; index++) {
    const isSearch = SEARCH_START.test(lines[index]);
    if (!isSearch && !FILE_START.test(lines[index])) continue;
    const filePath = pathBefore(lines, index) ?? lastPath;
    if (filePath === undefined) {
      problems.push(`A ${isSearch ? 'SEARCH' : 'FILE'} block at line ${index + 1} has no file path on the line before it.`);
      continue;
    }
    lastPath = filePath;
    if (isSearch) {
      const divider = findLine(lines, index + 1, DIVIDER);
      const end = divider < 0 ? -1 : findLine(lines, divider + 1, REPLACE_END);
      if (end < 0) {
        problems.push(`The SEARCH block for ${filePath} at line ${index + 1} is not closed with ======= and >>>>>>> REPLACE.`);
        continue;
      }
      blocks.push({ kind: 'replace', path: filePath, search: lines.slice(index + 1, divider), replace: lines.slice(divider + 1, end) });
      index = end;
    } else {
      const end = findLine(lines, index + 1, FILE_END);
      if (end < 0) {
        problems.push(`The FILE block for ${filePath} at line ${index + 1} is not closed with >>>>>>> FILE.`);
        continue;
      }
      blocks.push({ kind: 'whole', path: filePath, content: lines.slice(index + 1, end) });
      index = end;
    }
  }
  return { blocks, problems };
}

function findLine(lines: string[], from: number, pattern: RegExp): number {
  for (let index = from; index < lines.length; index++) if (pattern.test(lines[index])) return index;
  return -1;
}

/** The path line above a block, skipping blank lines and code fences; undefined if the block follows another. */
function pathBefore(lines: string[], index: number): string | undefined {
  for (let above = index - 1; above >= 0 && above >= index - 3; above--) {
    const line = lines[above].trim();
    if (line === '' || FENCE.test(line)) continue;
    if (REPLACE_END.test(line) || FILE_END.test(line)) return undefined;
    const cleaned = line.replace(/^(?:#+\s*|file:\s*|path:\s*)/i, '').replace(/^[`*'"]+|[`*'":]+$/g, '').trim();
    return cleaned === '' ? undefined : cleaned;
  }
  return undefined;
}

export interface ApplyReport {
  /** Workspace-relative paths written. */
  changedFiles: string[];
  /** One message per block that was not applied, written for the model. */
  failures: string[];
  applied: number;
}

export interface ApplyOptions {
  /** When non-empty, only these workspace-relative paths may be written. */
  allowedFiles?: string[];
  /** The task board's folder: never written, wherever it is (see resolveInside). */
  boardRoot?: string;
}

export function applyEditBlocks(cwd: string, blocks: EditBlock[], options: ApplyOptions = {}): ApplyReport {
  const report: ApplyReport = { changedFiles: [], failures: [], applied: 0 };
  const allowed = new Set((options.allowedFiles ?? []).map((file) => path.posix.normalize(file.split(path.sep).join('/'))));
  for (const block of blocks) {
    const failure = applyOne(cwd, block, allowed, report, options.boardRoot);
    if (failure !== undefined) report.failures.push(failure);
  }
  return report;
}

function applyOne(cwd: string, block: EditBlock, allowed: Set<string>, report: ApplyReport, boardRoot: string | undefined): string | undefined {
  const resolved = resolveInside(cwd, block.path, boardRoot);
  if ('refused' in resolved) return `Edit refused: ${resolved.refused}.`;
  if (allowed.size > 0 && !allowed.has(resolved.relative)) {
    return `Edit refused: ${block.path} is not one of this task's files (${[...allowed].join(', ')}).`;
  }
  const existing = fs.existsSync(resolved.absolute) ? fs.readFileSync(resolved.absolute, 'utf8') : undefined;
  const outcome = block.kind === 'whole' ? { text: block.content.join('\n') + '\n' } : replaceIn(existing, block);
  if ('failure' in outcome) return outcome.failure;
  const crlf = existing?.includes('\r\n') ?? false;
  fs.mkdirSync(path.dirname(resolved.absolute), { recursive: true });
  fs.writeFileSync(resolved.absolute, crlf ? outcome.text.replace(/\n/g, '\r\n') : outcome.text);
  report.applied++;
  if (!report.changedFiles.includes(resolved.relative)) report.changedFiles.push(resolved.relative);
  return undefined;
}

function replaceIn(existing: string | undefined, block: Extract<EditBlock, { kind: 'replace' }>): { text: string } | { failure: string } {
  const searchIsEmpty = block.search.every((line) => line.trim() === '');
  if (existing === undefined) {
    if (searchIsEmpty) return { text: block.replace.join('\n') + '\n' };
    return { failure: `${block.path} does not exist, so its SEARCH block cannot match. To create it, use an empty SEARCH section or a FILE block.` };
  }
  const fileLines = existing.replace(/\r\n/g, '\n').split('\n');
  if (searchIsEmpty) {
    if (existing.trim() === '') return { text: block.replace.join('\n') + '\n' };
    return { failure: `The SEARCH section for ${block.path} is empty, but the file has content. Quote the exact lines to replace, or send the whole file in a FILE block.` };
  }
  const exact = findMatches(fileLines, block.search, (a, b) => a === b);
  const tolerant = exact.length > 0 ? exact : findMatches(fileLines, block.search, (a, b) => a.trim() === b.trim());
  if (tolerant.length === 0) return { failure: `A SEARCH block for ${block.path} matches no lines of the file:\n${quoteSearch(block.search)}\nSEARCH must repeat existing lines exactly (see the file's current content below).` };
  if (tolerant.length > 1) return { failure: `A SEARCH block for ${block.path} matches ${tolerant.length} places (lines ${tolerant.map((at) => at + 1).join(', ')}):\n${quoteSearch(block.search)}\nInclude more surrounding lines so it matches exactly one place.` };
  const at = tolerant[0];
  const replacement = exact.length > 0 ? block.replace : reindent(block.replace, block.search, fileLines.slice(at, at + block.search.length));
  fileLines.splice(at, block.search.length, ...replacement);
  return { text: fileLines.join('\n') };
}

function findMatches(fileLines: string[], search: string[], same: (a: string, b: string) => boolean): number[] {
  const matches: number[] = [];
  for (let start = 0; start + search.length <= fileLines.length; start++) {
    if (search.every((line, offset) => same(fileLines[start + offset], line))) matches.push(start);
  }
  return matches;
}

/**
 * When the model got the indentation wrong, shift its replacement by the difference it made on the
 * first non-blank line, so the new code lands at the file's indentation.
 */
function reindent(replace: string[], search: string[], matched: string[]): string[] {
  const first = search.findIndex((line) => line.trim() !== '');
  if (first < 0) return replace;
  const searchIndent = leadingWhitespace(search[first]);
  const fileIndent = leadingWhitespace(matched[first]);
  if (searchIndent === fileIndent) return replace;
  return replace.map((line) => {
    if (line.trim() === '') return line;
    if (fileIndent.startsWith(searchIndent)) return fileIndent.slice(searchIndent.length) + line;
    return line.startsWith(searchIndent) ? fileIndent + line.slice(searchIndent.length) : line;
  });
}

function leadingWhitespace(line: string): string {
  return /^\s*/.exec(line)?.[0] ?? '';
}

function quoteSearch(search: string[]): string {
  const shown = search.length > 30 ? [...search.slice(0, 30), `... (${search.length - 30} more lines)`] : search;
  return shown.map((line) => `    ${line}`).join('\n');
}
