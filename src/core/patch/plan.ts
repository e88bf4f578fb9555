// Planning the apply of task results to the user's working tree, three-way when needed, never
// silently overwriting. For every file the engine compares three versions:
//   base   - the file in the snapshot the agent started from (the patch's base commit),
//   theirs - base with the patch applied (in a throw-away index, nothing touches the user's),
//   ours   - the file in the user's folder now (or the editor's unsaved text).
// ours == base: take theirs (a clean apply). ours == theirs: already there. Otherwise a text merge
// with `git merge-file`; a conflict anywhere means nothing is written (unless markers are asked
// for).
//
// A batch of results costs a constant number of git processes, not a few per file: one
// `cat-file --batch-check` resolves every base snapshot to its tree; results on the same tree whose
// files do not overlap share one throw-away index (one `read-tree`, one `git apply --cached` of
// their patches together, one `diff-index` listing base and theirs blob ids of every changed
// path); versions are compared by blob id (ours hashed here, or by one `hash-object --stdin-paths`
// when the repository converts line endings or filters); contents come from one long-running
// `cat-file --batch` (with conversions, theirs as a checkout writes it comes from one
// `checkout-index` per throw-away index). Only files that need a three-way merge cost a process each.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GitCommandError, gitText, runGit } from '../worktree/git';
import { locateRepository, type RepoInfo } from '../worktree/repo';
import { filesInTheWay, readWorkspaceFile } from './apply';
import { ResultActionError } from './errors';
import { GitPipe, parseCatFileAnswer, parseLine } from './gitPipe';
import { parsePatch, type PatchSection } from '../diff/parse';
import { assertSafePatchPaths, type WriteScope } from './paths';
import type { FileVersion } from './theirs';

export interface FilePlan {
  path: string;
  kind: 'clean' | 'merged' | 'already' | 'conflict';
  /** Final state of `path`; for renames the source `from` is removed. */
  result: FileVersion;
  from?: string;
  conflictReason?: string;
  /** A text conflict whose `result` is the merge with conflict markers (written only when asked). */
  markers?: boolean;
}

export interface PlanOptions {
  /**
   * The user's current version of a file, when it is not the one on disk (an editor with unsaved
   * changes); undefined means "read the file".
   */
  readOurs?: (relPath: string) => FileVersion | undefined;
}

/** One patch to plan: a task's result (or one child's part of a combined result). */
export interface PatchInput {
  text: string;
  base?: string;
}

/** A file as an entry of a tree or an index: its mode and blob id. */
interface BlobRef {
  mode: string;
  sha: string;
}

/** What git says each path of a patch is in its base snapshot and becomes with the patch. */
interface PatchTrees {
  sections: PatchSection[];
  base: Map<string, BlobRef | undefined>;
  theirs: Map<string, BlobRef | undefined>;
  /** With conversions: theirs as a checkout writes it (line endings, filters), by path. */
  checkedOut?: Map<string, Buffer>;
}

/** What a patch changes: base and theirs by workspace-relative path, and checked-out contents. */
interface Changes {
  byPath: Map<string, { base?: BlobRef; theirs?: BlobRef }>;
  checkedOut?: Map<string, Buffer>;
}

const NO_BASE = 'The patch has no base snapshot in this repository (it may have been garbage-collected); apply it with `git apply` by hand.';
/** Throw-away indexes prepared at the same time (each is a read-tree and an apply). */
const PARALLEL_INDEXES = 2;
/** Files of one patch planned at the same time. */
const FILES_AT_ONCE = 16;

/** Every path a patch names (targets and rename sources) through the one safety check. */
export function assertSafeSections(scope: WriteScope, sections: PatchSection[]): void {
  assertSafePatchPaths(scope, touchedPaths(sections), removedPaths(sections));
}

/** The paths a patch removes (deleted files, rename sources): a folder may take their place. */
function removedPaths(sections: PatchSection[]): Set<string> {
  return new Set(sections.flatMap((section) => (section.status === 'deleted' ? [section.path] : section.from ? [section.from] : [])));
}

export function isObjectId(value: unknown): value is string {
  return typeof value === 'string' && /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(value);
}

/**
 * Plans the apply of many patches against the workspace. `open` does the git work for all of them
 * up front; `plan` then compares one patch with the workspace as it is at that moment, so
 * patches applied one after the other each see the files the previous ones wrote.
 */
export class ApplyPlanner {
  private constructor(
    private readonly repo: RepoInfo,
    private readonly filters: GitFilters,
    private readonly prepared: Map<PatchInput, PatchTrees | Error>,
    private readonly blobs: GitPipe,
  ) {}

  /** `located`: the workspace's repository, when the caller started looking for it already. */
  static async open(scope: WriteScope, patches: PatchInput[], located?: Promise<RepoInfo>): Promise<ApplyPlanner> {
    const repo = await (located ?? locateRepository(scope.workspaceRoot));
    const parsed = parsePatches(scope, patches);
    const paths = [...new Set([...parsed.values()].flatMap((sections) => (sections instanceof Error ? [] : touchedPaths(sections))))];
    // Independent questions to git, asked at once: the machine waits for process start-ups, not CPU.
    // The blob reader starts with them, so it is ready when the first file is planned.
    const blobs = new GitPipe(['cat-file', '--batch'], repo.topLevel);
    try {
      const bases = [...parsed].flatMap(([patch, sections]) => (sections instanceof Error ? [] : [patch.base]));
      const listing = listBaseEntries(repo, parsed);
      const [filters, trees] = await Promise.all([gitFilters(repo, paths), baseTrees(repo, bases)]);
      const prepared = await preparePatches(repo, parsed, trees, filters.active, listing);
      return new ApplyPlanner(repo, filters, prepared, blobs);
    } catch (error) {
      await blobs.close();
      throw error;
    }
  }

  /** What applying `patch` would do to every file it touches; writes nothing. Throws what its preparation found. */
  async plan(patch: PatchInput, options: PlanOptions = {}): Promise<FilePlan[]> {
    const trees = this.prepared.get(patch);
    // A bug of the caller: every patch a planner plans is one it was created with.
    if (trees === undefined) throw new Error('This patch was not prepared by this planner.');
    if (trees instanceof Error) throw trees;
    // The files are independent: their blob reads are pipelined through the one cat-file process
    // (a few at a time, so that a result of many three-way merges does not start them all at once).
    const plans: FilePlan[] = [];
    const removed = removedPaths(trees.sections);
    await inBatches(trees.sections, FILES_AT_ONCE, async (section, index) => {
      plans[index] = await this.planFile(section, trees, removed, options);
    });
    return plans;
  }

  async close(): Promise<void> {
    await Promise.all([this.blobs.close(), this.filters.close()]);
  }

  private async planFile(section: PatchSection, trees: PatchTrees, removed: ReadonlySet<string>, options: PlanOptions): Promise<FilePlan> {
    const source = section.from ?? section.path;
    const base = trees.base.get(source);
    const theirs = trees.theirs.get(section.path);
    const current = async (relPath: string) => {
      const edited = options.readOurs?.(relPath);
      const version = edited ?? readWorkspaceFile(this.repo.workspaceRoot, relPath);
      return { version, ref: await this.filters.blobRef(relPath, version, edited === undefined) };
    };
    const ours = await current(source);
    const plan = (kind: FilePlan['kind'], result: FileVersion, conflictReason?: string): FilePlan => {
      const entry: FilePlan = { path: section.path, kind, result };
      if (section.from) entry.from = section.from;
      if (conflictReason) entry.conflictReason = conflictReason;
      return entry;
    };
    if (section.from) {
      const target = await current(section.path);
      if (target.ref && !sameRef(target.ref, theirs)) return plan('conflict', target.version, `the rename target ${section.path} already exists with other content`);
      if (target.ref && !ours.ref) return plan('already', target.version);
    }
    if (theirs) {
      // A folder where the result puts a file: written only once the patch has emptied it.
      const inTheWay = filesInTheWay(this.repo.workspaceRoot, section.path, removed);
      if (inTheWay.length > 0) return plan('conflict', ours.version, `a folder is in its place, holding ${inTheWay.join(', ')}, which the task does not remove`);
    }
    if (sameRef(ours.ref, base)) return plan('clean', await this.checkedOut(section.path, theirs, trees));
    if (ours.ref?.sha === theirs?.sha && !section.from) return plan('already', ours.version);
    if (!ours.ref) return plan('conflict', ours.version, 'the file was deleted in your workspace since the task started');
    if (!theirs) return plan('conflict', ours.version, 'the task deletes the file, but you changed it since');
    if (!base) return plan('conflict', ours.version, 'the task adds the file, but a different file with that name exists now');
    const [oursContent, baseContent, theirsContent] = await Promise.all([this.filters.toRepository(source, ours.version), this.blob(base), this.blob(theirs)]);
    if (isBinary(oursContent) || isBinary(baseContent) || isBinary(theirsContent)) return plan('conflict', ours.version, 'binary file changed both in your workspace and by the task');
    const merged = await mergeFile(oursContent, baseContent, theirsContent, section.path);
    const mode = theirs.mode !== base.mode ? theirs.mode : ours.version.mode;
    // What gets written goes through the same conversion as a checkout (line endings, filters).
    const result = await this.filters.toWorkingTree(section.path, { content: merged.content, mode });
    if (merged.conflicts > 0) return { ...plan('conflict', result, `${merged.conflicts} overlapping change${merged.conflicts === 1 ? '' : 's'} with your edits`), markers: true };
    return plan('merged', result);
  }

  private async blob(ref: BlobRef): Promise<Buffer> {
    const answer = await this.blobs.request(ref.sha, parseCatFileAnswer);
    if (!answer) {
      throw new ResultActionError(
        'environment',
        `The file version ${ref.sha} of this result is missing from the repository (removed by git gc, or the repository was replaced), so the result cannot be applied; run the task again (swarm retry).`,
      );
    }
    return answer.content;
  }

  /** Theirs as a checkout writes it: through the working-tree conversions, when there are any. */
  private async checkedOut(relPath: string, ref: BlobRef | undefined, trees: PatchTrees): Promise<FileVersion> {
    if (!ref) return {};
    return { mode: ref.mode, content: trees.checkedOut?.get(relPath) ?? (await this.blob(ref)) };
  }
}

function sameRef(a: BlobRef | undefined, b: BlobRef | undefined): boolean {
  if (!a || !b) return a === b;
  return a.sha === b.sha && a.mode === b.mode;
}

function isBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}

// ------------------------------------------------------------------ preparing the patches

interface Layer {
  tree: string;
  patches: PatchInput[];
  /** The files its patches touch, and the folders those files are in. */
  files: Set<string>;
  folders: Set<string>;
}

/** Every patch parsed and its paths checked, or why it cannot be applied. */
function parsePatches(scope: WriteScope, patches: PatchInput[]): Map<PatchInput, PatchSection[] | Error> {
  const parsed = new Map<PatchInput, PatchSection[] | Error>();
  for (const patch of patches) {
    try {
      const sections = parsePatch(patch.text);
      assertSafeSections(scope, sections);
      parsed.set(patch, sections);
    } catch (error) {
      parsed.set(patch, error as Error);
    }
  }
  return parsed;
}

/**
 * With the trees of their bases (`baseTrees`), reads base and theirs of every file they touch (and,
 * with `convert`, theirs as a checkout writes it).
 */
async function preparePatches(repo: RepoInfo, parsed: Map<PatchInput, PatchSection[] | Error>, trees: Map<string, string>, convert: boolean, listing: BaseListing | undefined): Promise<Map<PatchInput, PatchTrees | Error>> {
  const prepared = new Map<PatchInput, PatchTrees | Error>();
  const sections = new Map<PatchInput, PatchSection[]>();
  for (const [patch, value] of parsed) {
    if (value instanceof Error) prepared.set(patch, value);
    else sections.set(patch, value);
  }
  const layers: Layer[] = [];
  for (const [patch, parsed] of sections) {
    const tree = patch.base ? trees.get(patch.base) : undefined;
    if (!tree) prepared.set(patch, new Error(NO_BASE));
    else addToLayer(layers, tree, patch, touchedPaths(parsed));
  }
  const results = new Map<PatchInput, Changes | Error>();
  await inBatches(layers, PARALLEL_INDEXES, async (layer) => {
    for (const [patch, changes] of await changesOfLayer(repo, layer, convert, await listedFor(repo, layer, listing, trees))) results.set(patch, changes);
  });
  const unchanged: Array<{ tree: string; path: string }> = [];
  for (const [patch, changes] of results) {
    if (changes instanceof Error) {
      prepared.set(patch, changes);
      continue;
    }
    const parsed = sections.get(patch) as PatchSection[];
    const base = new Map<string, BlobRef | undefined>();
    const theirs = new Map<string, BlobRef | undefined>();
    for (const relPath of touchedPaths(parsed)) {
      const change = changes.byPath.get(relPath);
      if (change) {
        base.set(relPath, change.base);
        theirs.set(relPath, change.theirs);
      } else unchanged.push({ tree: trees.get(patch.base as string) as string, path: relPath });
    }
    prepared.set(patch, { sections: parsed, base, theirs, checkedOut: changes.checkedOut });
  }
  // A path a patch names but git did not change (a copy's source): the same in base and theirs.
  const entries = await treeEntries(repo, unchanged);
  for (const [patch, value] of prepared) {
    if (value instanceof Error) continue;
    const tree = trees.get(patch.base as string) as string;
    for (const relPath of touchedPaths(value.sections)) {
      if (value.base.has(relPath)) continue;
      const entry = entries.get(`${tree}\0${relPath}`);
      value.base.set(relPath, entry);
      value.theirs.set(relPath, entry);
    }
  }
  return prepared;
}

function touchedPaths(sections: PatchSection[]): string[] {
  return [...new Set(sections.flatMap((section) => (section.from ? [section.path, section.from] : [section.path])))];
}

/** The tree of each base commit, in one `cat-file --batch-check`; missing bases are left out. */
async function baseTrees(repo: RepoInfo, bases: Array<string | undefined>): Promise<Map<string, string>> {
  const wanted = [...new Set(bases.filter(isObjectId))];
  const trees = new Map<string, string>();
  if (wanted.length === 0) return trees;
  const answer = await runGit(['cat-file', '--batch-check'], { cwd: repo.topLevel, input: wanted.map((base) => `${base}^{commit}^{tree}\n`).join('') });
  answer.stdout
    .toString('utf8')
    .split('\n')
    .slice(0, wanted.length)
    .forEach((line, index) => {
      const match = /^([0-9a-f]+) tree \d+$/.exec(line);
      if (match) trees.set(wanted[index], match[1]);
    });
  return trees;
}

/**
 * Puts the patch in the first layer on its tree whose files it does not touch (a file of one that
 * is a folder of the other counts as touching), else in a new layer.
 */
function addToLayer(layers: Layer[], tree: string, patch: PatchInput, files: string[]): void {
  const folders = new Set(files.flatMap(parentFolders));
  const layer = layers.find((candidate) => candidate.tree === tree && files.every((file) => !candidate.files.has(file) && !candidate.folders.has(file)) && [...folders].every((folder) => !candidate.files.has(folder)));
  if (!layer) {
    layers.push({ tree, patches: [patch], files: new Set(files), folders });
    return;
  }
  layer.patches.push(patch);
  for (const file of files) layer.files.add(file);
  for (const folder of folders) layer.folders.add(folder);
}

/** The folders on the way to a workspace-relative path: "a", "a/b" for "a/b/c". */
export function parentFolders(relPath: string): string[] {
  const parts = relPath.split('/');
  return parts.slice(1).map((_, index) => parts.slice(0, index + 1).join('/'));
}

/**
 * Applies the layer's patches together in a throw-away index on its tree and lists what changed.
 * When the patches do not apply together, each is tried alone, so a damaged one is named.
 */
async function changesOfLayer(repo: RepoInfo, layer: Layer, convert: boolean, listed: Buffer | undefined): Promise<Map<PatchInput, Changes | Error>> {
  const results = new Map<PatchInput, Changes | Error>();
  const text = layer.patches.map((patch) => (patch.text.endsWith('\n') ? patch.text : `${patch.text}\n`)).join('');
  const paths = [...layer.files];
  const changes = await patchedChanges(repo, layer.tree, paths, text, convert, listed);
  if (!(changes instanceof Error)) {
    for (const patch of layer.patches) results.set(patch, changes);
    return results;
  }
  if (layer.patches.length === 1) return results.set(layer.patches[0], changes);
  for (const patch of layer.patches) results.set(patch, await patchedChanges(repo, layer.tree, paths, patch.text, convert, listed));
  return results;
}

/**
 * base and theirs of every path `text` changes on `tree` (workspace-relative), from a throw-away
 * index; with `convert`, also theirs as a checkout writes it (`checkout-index` into a temp folder:
 * `cat-file --batch --filters` announces the unfiltered size, so its answers cannot be read).
 * The index holds only the entries of `paths` (the files the patches name), so the cost follows
 * the patch, not the repository: reading, writing and comparing a whole tree of 20,000 files took
 * most of the time of a small apply. A tree whose entries at those paths are not all plain files
 * (a folder or a submodule where the patch names a file) is read whole, as git would see it.
 */
async function patchedChanges(repo: RepoInfo, tree: string, paths: string[], text: string, convert: boolean, listed?: Buffer): Promise<Changes | Error> {
  const tempIndex = path.join(repo.gitDir, 'swarm-tmp', `plan-${process.pid}-${crypto.randomBytes(6).toString('hex')}.index`);
  fs.mkdirSync(path.dirname(tempIndex), { recursive: true });
  const env = { GIT_INDEX_FILE: tempIndex };
  const cwd = repo.topLevel;
  try {
    const base = await readSparseIndex(repo, tree, paths, env, listed);
    if (!base) await runGit(['read-tree', tree], { cwd, env });
    try {
      await runGit(['apply', '--cached', '--binary', ...(repo.prefix ? [`--directory=${repo.prefix}`] : []), '-'], { cwd, env, input: text });
    } catch (error) {
      return new Error(`The patch does not apply to the snapshot it was made from (${(error as Error).message.split('\n')[0]}); it may be damaged.`);
    }
    const byPath = base ? await changedInSparseIndex(repo, env, base) : await changedInIndex(repo, env, tree);
    if (byPath instanceof Error || !convert) return byPath instanceof Error ? byPath : { byPath };
    return { byPath, checkedOut: await checkOut(repo, env, [...byPath].filter(([, change]) => change.theirs && change.theirs.mode !== '120000').map(([relPath]) => relPath)) };
  } finally {
    fs.rmSync(tempIndex, { force: true });
  }
}

/** The most characters of paths given to one `ls-tree`; a larger layer reads its whole tree instead. */
const SPARSE_PATHS_CHARS = 256 * 1024;
/** Paths as they are, never as pathspec magic or patterns (a file may be named `:(top)x` or `a*`). */
const LITERAL_PATHS = { GIT_LITERAL_PATHSPECS: '1' };

/**
 * Fills the index in `env` with the entries `paths` have in `tree` (one `ls-tree`, one
 * `update-index`); returns them by top-level path, or undefined when the whole tree must be read
 * (no paths, too many for a command line, or an entry that is not a plain file).
 */
async function readSparseIndex(repo: RepoInfo, tree: string, paths: string[], env: Record<string, string>, prelisted?: Buffer): Promise<Map<string, BlobRef> | undefined> {
  const tops = paths.map((relPath) => topPath(repo, relPath));
  if (tops.length === 0 || !sparseFits(tops)) return undefined;
  const listed = prelisted ?? (await runGit(['ls-tree', '-z', '--full-tree', tree, '--', ...tops], { cwd: repo.topLevel, env: LITERAL_PATHS })).stdout;
  const entries = new Map<string, BlobRef>();
  for (const line of listed.toString('utf8').split('\0')) {
    if (!line) continue;
    const match = /^(\d{6}) (\S+) ([0-9a-f]+)\t(.*)$/s.exec(line);
    if (!match || match[2] !== 'blob') return undefined;
    entries.set(match[4], { mode: match[1], sha: match[3] });
  }
  // update-index reads ls-tree's own format; with no entries it still writes an empty index.
  await runGit(['update-index', '-z', '--index-info'], { cwd: repo.topLevel, env, input: listed });
  return entries;
}

function sparseFits(tops: string[]): boolean {
  return tops.reduce((sum, top) => sum + top.length + 1, 0) <= SPARSE_PATHS_CHARS;
}

/**
 * `ls-tree -z` of one base commit (ls-tree takes a commit for its tree) at every path the patches
 * touch, started with the planner's first questions instead of after the trees are known: the
 * layers on that base's tree fill their indexes from it without a wait of their own.
 */
interface BaseListing {
  base: string;
  listed: Promise<Buffer | undefined>;
}

/**
 * The listing of the base most patches share (with a snapshot commit per task, any of them: they
 * usually share one tree). One process, as the layer on that tree would have started anyway; a
 * base that cannot be listed (not a commit) leaves its layers to the usual path, which reports it.
 */
function listBaseEntries(repo: RepoInfo, parsed: Map<PatchInput, PatchSection[] | Error>): BaseListing | undefined {
  const patchesByBase = new Map<string, number>();
  const tops = new Set<string>();
  for (const [patch, sections] of parsed) {
    if (sections instanceof Error || !isObjectId(patch.base)) continue;
    patchesByBase.set(patch.base, (patchesByBase.get(patch.base) ?? 0) + 1);
    for (const relPath of touchedPaths(sections)) tops.add(topPath(repo, relPath));
  }
  const base = [...patchesByBase].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (base === undefined || tops.size === 0 || !sparseFits([...tops])) return undefined;
  const listed = runGit(['ls-tree', '-z', '--full-tree', base, '--', ...tops], { cwd: repo.topLevel, env: LITERAL_PATHS }).then(
    (answer) => answer.stdout,
    () => undefined,
  );
  return { base, listed };
}

/**
 * The entries of the layer's files in its tree, as `ls-tree -z` prints them, when the listing is
 * of a commit of that tree (it covers every path of every patch); undefined otherwise, and when it
 * went into a folder the layer names as a file. ls-tree shows a folder it was asked for as one
 * line, unless another path it was asked for lies inside: then it lists the folder's entries
 * instead (all of them: they match the folder's name). Another result's path inside would hide the
 * folder, which makes the whole tree be read, and the patch that names it as a file would apply to
 * an index that lacks the folder's files; the layer's own listing tells it as git sees it.
 * Paths are compared as bytes (latin1 keeps every byte), so a name that is not UTF-8 stays itself.
 */
async function listedFor(repo: RepoInfo, layer: Layer, listing: BaseListing | undefined, trees: Map<string, string>): Promise<Buffer | undefined> {
  if (!listing || trees.get(listing.base) !== layer.tree) return undefined;
  const listed = await listing.listed;
  if (!listed) return undefined;
  const wanted = new Set([...layer.files].map((relPath) => Buffer.from(topPath(repo, relPath), 'utf8').toString('latin1')));
  const lines: string[] = [];
  for (const line of listed.toString('latin1').split('\0')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const listedPath = line.slice(tab + 1);
    if (parentFolders(listedPath).some((folder) => wanted.has(folder))) return undefined;
    if (wanted.has(listedPath)) lines.push(`${line}\0`);
  }
  return Buffer.from(lines.join(''), 'latin1');
}

/** What the patch changed in a sparse index: its entries (`ls-files`) against the base entries. */
async function changedInSparseIndex(repo: RepoInfo, env: Record<string, string>, base: Map<string, BlobRef>): Promise<Changes['byPath'] | Error> {
  const listed = (await runGit(['ls-files', '-s', '-z', '--full-name'], { cwd: repo.topLevel, env })).stdout.toString('utf8');
  const theirs = new Map<string, BlobRef>();
  for (const line of listed.split('\0')) {
    if (!line) continue;
    const match = /^(\d{6}) ([0-9a-f]+) \d\t(.*)$/s.exec(line);
    if (!match) return new Error(`git ls-files printed "${line}", which Agent Swarm cannot read.`);
    theirs.set(match[3], { mode: match[1], sha: match[2] });
  }
  const changes = new Map<string, { base?: BlobRef; theirs?: BlobRef }>();
  for (const top of new Set([...base.keys(), ...theirs.keys()])) {
    const before = base.get(top);
    const after = theirs.get(top);
    if (before && after && sameRef(before, after)) continue;
    if (after?.mode === '160000') return new Error(`The patch changes the submodule ${top}; apply it with \`git apply\` by hand.`);
    changes.set(repo.prefix ? top.slice(repo.prefix.length + 1) : top, { base: before, theirs: after });
  }
  return changes;
}

/** What the patch changed in a whole index read from `tree` (`diff-index`). */
async function changedInIndex(repo: RepoInfo, env: Record<string, string>, tree: string): Promise<Changes['byPath'] | Error> {
  const listed = await runGit(['diff-index', '--cached', '-z', '--raw', '--no-abbrev', '--no-renames', tree], { cwd: repo.topLevel, env });
  return parseRawDiff(listed.stdout.toString('utf8'), repo.prefix);
}

/** Files of the index in `env` as a checkout writes them, read back from a throw-away folder. */
async function checkOut(repo: RepoInfo, env: Record<string, string>, relPaths: string[]): Promise<Map<string, Buffer>> {
  const contents = new Map<string, Buffer>();
  if (relPaths.length === 0) return contents;
  const dir = path.join(repo.gitDir, 'swarm-tmp', `checkout-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  try {
    await runGit(['checkout-index', `--prefix=${dir}${path.sep}`, '-z', '--stdin'], { cwd: repo.topLevel, env, input: relPaths.map((relPath) => `${topPath(repo, relPath)}\0`).join('') });
    for (const relPath of relPaths) contents.set(relPath, fs.readFileSync(path.join(dir, topPath(repo, relPath))));
    return contents;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const NULL_ID = /^0+$/;

/** `diff --raw -z`: ":<mode> <mode> <id> <id> <status>\0<path>\0" per changed path. */
function parseRawDiff(output: string, prefix: string): Changes['byPath'] | Error {
  const changes = new Map<string, { base?: BlobRef; theirs?: BlobRef }>();
  const fields = output.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const match = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) [A-Z]/.exec(fields[i]);
    if (!match) return new Error(`git diff-index printed "${fields[i]}", which Agent Swarm cannot read.`);
    if (match[1] === '160000' || match[2] === '160000') return new Error(`The patch changes the submodule ${fields[i + 1]}; apply it with \`git apply\` by hand.`);
    const relPath = prefix ? fields[i + 1].slice(prefix.length + 1) : fields[i + 1];
    changes.set(relPath, {
      base: NULL_ID.test(match[3]) ? undefined : { mode: match[1], sha: match[3] },
      theirs: NULL_ID.test(match[4]) ? undefined : { mode: match[2], sha: match[4] },
    });
  }
  return changes;
}

/** Entries of paths in trees (one `ls-tree` per tree), keyed "<tree>\0<path>"; absent paths are left out. */
async function treeEntries(repo: RepoInfo, wanted: Array<{ tree: string; path: string }>): Promise<Map<string, BlobRef>> {
  const entries = new Map<string, BlobRef>();
  const byTree = new Map<string, string[]>();
  for (const item of wanted) byTree.set(item.tree, [...(byTree.get(item.tree) ?? []), item.path]);
  for (const [tree, paths] of byTree) {
    const listed = await gitText(['ls-tree', '-z', '--full-tree', tree, '--', ...paths.map((relPath) => topPath(repo, relPath))], { cwd: repo.topLevel, env: LITERAL_PATHS });
    for (const line of listed.split('\0')) {
      const match = /^(\d+) blob ([0-9a-f]+)\t(.*)$/s.exec(line);
      if (match) entries.set(`${tree}\0${repo.prefix ? match[3].slice(repo.prefix.length + 1) : match[3]}`, { mode: match[1], sha: match[2] });
    }
  }
  return entries;
}

async function inBatches<T>(items: T[], size: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map((item, offset) => run(item, i + offset)));
}

function topPath(repo: RepoInfo, relPath: string): string {
  return repo.prefix ? `${repo.prefix}/${relPath}` : relPath;
}

/** A file's version at a commit (for review); {} when the commit does not have it. */
export async function blobAt(repo: RepoInfo, commit: string, relPath: string): Promise<FileVersion> {
  const listed = await gitText(['ls-tree', '-z', commit, '--', topPath(repo, relPath)], { cwd: repo.topLevel });
  const match = /^(\d+) blob ([0-9a-f]+)\t/.exec(listed);
  if (!match) return {};
  return { mode: match[1], content: (await runGit(['cat-file', 'blob', match[2]], { cwd: repo.topLevel })).stdout };
}

// ------------------------------------------------------------------ conversions

/**
 * Git's conversions between the files in the folder and the blobs in the repository (core.autocrlf,
 * `eol` and `filter` attributes). Comparisons and merges happen on the repository form, like git's
 * own; results are written in the working-tree form. Without conversions, blob ids are computed
 * here and no git process is needed.
 */
interface GitFilters {
  /** Whether the repository converts anything. */
  active: boolean;
  /** The blob id (and mode) the file would have in the repository; undefined when it does not exist. */
  blobRef(relPath: string, version: FileVersion, onDisk: boolean): Promise<BlobRef | undefined>;
  toRepository(relPath: string, version: FileVersion): Promise<Buffer>;
  toWorkingTree(relPath: string, version: FileVersion): Promise<FileVersion>;
  close(): Promise<void>;
}

/** The conversions for the files at `paths` (workspace-relative): those an apply compares and writes. */
async function gitFilters(repo: RepoInfo, paths: string[]): Promise<GitFilters> {
  const [config, attributes] = await Promise.all([conversionConfig(repo), attributesConvert(repo, paths)]);
  const plainRef = (version: FileVersion): BlobRef | undefined => (version.content === undefined ? undefined : { mode: version.mode ?? '100644', sha: blobId(version.content, config.hashKind) });
  if (!(config.converts || attributes)) {
    return {
      active: false,
      blobRef: async (_relPath, version) => plainRef(version),
      toRepository: async (_relPath, version) => version.content ?? Buffer.alloc(0),
      toWorkingTree: async (_relPath, version) => version,
      close: async () => undefined,
    };
  }
  const cwd = repo.topLevel;
  const top = (relPath: string) => topPath(repo, relPath);
  const convertible = (version: FileVersion) => version.content !== undefined && version.mode !== '120000';
  // Started on first use: an apply that only adds files needs none.
  let hasher: GitPipe | undefined;
  return {
    active: true,
    blobRef: async (relPath, version, onDisk) => {
      if (!convertible(version)) return plainRef(version);
      const sha = onDisk
        ? await (hasher ??= new GitPipe(['hash-object', '--stdin-paths'], cwd)).request(top(relPath), parseLine)
        : await gitText(['hash-object', '--stdin', `--path=${top(relPath)}`], { cwd, input: version.content });
      return { mode: version.mode ?? '100644', sha };
    },
    toRepository: async (relPath, version) => {
      if (!convertible(version)) return version.content ?? Buffer.alloc(0);
      const sha = await gitText(['hash-object', '-w', '--stdin', `--path=${top(relPath)}`], { cwd, input: version.content });
      return (await runGit(['cat-file', 'blob', sha], { cwd })).stdout;
    },
    toWorkingTree: async (relPath, version) => {
      if (!convertible(version)) return version;
      const sha = await gitText(['hash-object', '-w', '--stdin', '--no-filters'], { cwd, input: version.content });
      return { ...version, content: (await runGit(['cat-file', '--filters', `--path=${top(relPath)}`, sha], { cwd })).stdout };
    },
    close: async () => {
      await hasher?.close();
    },
  };
}

/** The id git gives a blob with this content. */
function blobId(content: Buffer, kind: 'sha1' | 'sha256'): string {
  return crypto.createHash(kind).update(`blob ${content.length}\0`).update(content).digest('hex');
}

/**
 * The repository's hash (sha1 or sha256) and whether its configuration converts files (line
 * endings, filters), in one `git config`.
 */
async function conversionConfig(repo: RepoInfo): Promise<{ hashKind: 'sha1' | 'sha256'; converts: boolean }> {
  const config = await runGit(['config', '--get-regexp', '^(core\\.(autocrlf|eol)|filter\\..*|extensions\\.objectformat)$'], { cwd: repo.topLevel, okCodes: [1] });
  const lines = config.stdout.toString('utf8').trim().split('\n').filter(Boolean);
  const hashKind = lines.some((line) => /^extensions\.objectformat sha256$/i.test(line)) ? 'sha256' : 'sha1';
  const converts = lines.some((line) => !/^core\.autocrlf false$/i.test(line) && !/^extensions\.objectformat /i.test(line));
  return { hashKind, converts };
}

/** The attributes that make git convert a file between the repository and the folder. */
const CONVERTING_ATTRIBUTES = ['text', 'eol', 'crlf', 'filter', 'ident', 'working-tree-encoding'];

/**
 * Whether attributes (any .gitattributes on the way, info/attributes, the user's attributes file)
 * set a converting attribute on one of `paths`: one `check-attr` of those paths, not a search of
 * the whole index for attribute files.
 */
async function attributesConvert(repo: RepoInfo, paths: string[]): Promise<boolean> {
  if (paths.length === 0) return false;
  const answer = await runGit(['check-attr', '-z', '--stdin', ...CONVERTING_ATTRIBUTES], { cwd: repo.topLevel, input: paths.map((relPath) => `${topPath(repo, relPath)}\0`).join('') });
  // -z: "<path>\0<attribute>\0<value>\0" for every path and attribute.
  const fields = answer.stdout.toString('utf8').split('\0');
  for (let i = 2; i < fields.length; i += 3) if (fields[i] !== 'unspecified') return true;
  return false;
}

async function mergeFile(ours: Buffer, base: Buffer, theirs: Buffer, label: string): Promise<{ content: Buffer; conflicts: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-merge-'));
  try {
    const files = { ours: path.join(dir, 'ours'), base: path.join(dir, 'base'), theirs: path.join(dir, 'theirs') };
    fs.writeFileSync(files.ours, ours);
    fs.writeFileSync(files.base, base);
    fs.writeFileSync(files.theirs, theirs);
    const result = await runGit(['merge-file', '-p', '-L', `${label} (yours)`, '-L', `${label} (snapshot)`, '-L', `${label} (task)`, files.ours, files.base, files.theirs], {
      cwd: dir,
      okCodes: Array.from({ length: 127 }, (_, i) => i + 1),
    });
    // Above 127: killed by a signal or crashed, not a merge result (its exit code counts conflicts).
    if (result.code > 127) throw new GitCommandError(['merge-file', label], result.code, result.stderr);
    return { content: result.stdout, conflicts: result.code };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
