// The tree of a result commit: the snapshot's tree with the collected patch applied. Reading the
// whole snapshot into an index (`read-tree`) and writing it back (`write-tree`) cost a runner most
// of its per-task overhead on a 20,000-file repository, so the usual way touches only what the patch
// touches: its files go into a private index for `git apply --cached`, the folders above them are
// read as tree objects, rewritten and written with one `git mktree --batch`; every other subtree is
// reused as it is. The full index stays as the fallback for whatever the usual way cannot build.
import { createHash } from 'crypto';
import * as path from 'path';
import { parsePatch } from '../diff/parse';
import { gitText, runGit } from '../worktree/git';

export interface ResultTreeInput {
  /** The repository's git directory (runs git there). */
  gitDir: string;
  snapshot: string;
  /** The patch, relative to `prefix`. */
  patch: Buffer;
  /** The workspace folder inside the repository ('' for the top). */
  prefix: string;
  /** A private index file that does not exist yet (the caller removes it). */
  indexFile: string;
}

/** The patch applied to the whole snapshot read into a private index: slower, handles everything git does. */
export async function treeFromFullIndex(input: ResultTreeInput): Promise<string> {
  const env = { GIT_INDEX_FILE: input.indexFile };
  await runGit(['read-tree', input.snapshot], { cwd: input.gitDir, env });
  await applyCached(input, env);
  return gitText(['write-tree'], { cwd: input.gitDir, env });
}

/** The same tree, built from the patch's paths and the folders above them only; throws when it cannot. */
export async function treeFromChangedPaths(input: ResultTreeInput): Promise<string> {
  const touched = touchedPaths(input.patch, input.prefix);
  const folders = foldersAbove(touched);
  const listings = await readFolders(input.gitDir, input.snapshot, folders);
  const env = { GIT_INDEX_FILE: input.indexFile };
  const seed = [...touched].flatMap((file) => {
    const entry = listings.get(parentOf(file))?.get(path.posix.basename(file));
    return entry && entry.type !== 'tree' ? [`${entry.mode} ${entry.oid}\t${file}\0`] : [];
  });
  if (seed.length > 0) await runGit(['update-index', '-z', '--index-info'], { cwd: input.gitDir, env, input: seed.join('') });
  await applyCached(input, env);
  const after = await readIndex(input.gitDir, env);
  // Caught where the result is built (result.ts), which then builds the tree the full-index way (these throws in this file all are).
  for (const file of after.keys()) if (!touched.has(file)) throw new Error(`git apply changed ${file}, which the patch does not name`);
  const trees = rewriteFolders(folders, listings, touched, after, input.snapshot.length);
  const written = (await gitText(['mktree', '-z', '--batch'], { cwd: input.gitDir, input: trees.map((tree) => tree.mktreeInput + '\0').join('') })).split('\n');
  trees.forEach((tree, index) => {
    // Caught where the result is built (result.ts): the full-index way runs instead.
    if (written[index] !== tree.oid) throw new Error(`git mktree wrote ${written[index]} for the folder "${tree.folder}", expected ${tree.oid}`);
  });
  return trees[trees.length - 1].oid;
}

function applyCached(input: ResultTreeInput, env: Record<string, string>): Promise<unknown> {
  if (input.patch.length === 0) return Promise.resolve();
  const directory = input.prefix ? [`--directory=${input.prefix}`] : [];
  return runGit(['apply', '--cached', '--binary', ...directory, '-'], { cwd: input.gitDir, env, input: input.patch });
}

/** Every repository path the patch reads or writes (both sides of a rename). */
function touchedPaths(patch: Buffer, prefix: string): Set<string> {
  const touched = new Set<string>();
  for (const section of parsePatch(patch.toString('utf8'))) {
    for (const name of [section.path, section.from]) {
      if (name === undefined) continue;
      const file = prefix ? `${prefix}/${name}` : name;
      // cat-file --batch reads one name a line; such names take the full index.
      if (file.includes('\n') || file.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new Error(`cannot rewrite the path ${JSON.stringify(file)} alone`);
      touched.add(file);
    }
  }
  return touched;
}

function parentOf(file: string): string {
  const slash = file.lastIndexOf('/');
  return slash < 0 ? '' : file.slice(0, slash);
}

/** The folders above the files, deepest first, the top ('') last. */
function foldersAbove(files: Set<string>): string[] {
  const folders = new Set<string>(['']);
  for (const file of files) for (let folder = parentOf(file); folder !== ''; folder = parentOf(folder)) folders.add(folder);
  const depth = (folder: string) => (folder === '' ? 0 : folder.split('/').length);
  return [...folders].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : a > b ? 1 : 0));
}

interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
}

type Listing = Map<string, TreeEntry>;

/** The snapshot's entries of each folder (empty for a folder it does not have), in one `git cat-file --batch`. */
async function readFolders(gitDir: string, snapshot: string, folders: string[]): Promise<Map<string, Listing>> {
  const output = (await runGit(['cat-file', '--batch'], { cwd: gitDir, input: folders.map((folder) => `${snapshot}:${folder}\n`).join('') })).stdout;
  const listings = new Map<string, Listing>();
  let at = 0;
  for (const folder of folders) {
    const end = output.indexOf(0x0a, at);
    const header = output.subarray(at, end).toString('utf8').split(' ');
    at = end + 1;
    if (header[header.length - 1] === 'missing') {
      listings.set(folder, new Map());
      continue;
    }
    const size = Number(header[2]);
    listings.set(folder, header[1] === 'tree' ? parseTree(output.subarray(at, at + size), snapshot.length / 2) : new Map());
    at += size + 1;
  }
  return listings;
}

/** A raw tree object: `<mode> <name>\0<binary id>` per entry. */
function parseTree(raw: Buffer, idBytes: number): Listing {
  const listing: Listing = new Map();
  let at = 0;
  while (at < raw.length) {
    const space = raw.indexOf(0x20, at);
    const nul = raw.indexOf(0, space);
    const mode = raw.subarray(at, space).toString('latin1').padStart(6, '0');
    const name = raw.subarray(space + 1, nul);
    // Caught where the result is built (result.ts): the full-index way runs instead.
    if (!Buffer.from(name.toString('utf8')).equals(name)) throw new Error('a folder above the patch has a file name that is not UTF-8');
    listing.set(name.toString('utf8'), { mode, type: typeOfMode(mode), oid: raw.subarray(nul + 1, nul + 1 + idBytes).toString('hex') });
    at = nul + 1 + idBytes;
  }
  return listing;
}

function typeOfMode(mode: string): TreeEntry['type'] {
  return mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
}

/** The private index after the apply: path → entry. */
async function readIndex(gitDir: string, env: Record<string, string>): Promise<Map<string, TreeEntry>> {
  const output = (await runGit(['ls-files', '-s', '-z'], { cwd: gitDir, env })).stdout.toString('utf8');
  const entries = new Map<string, TreeEntry>();
  for (const record of output.split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const [mode, oid, stage] = record.slice(0, tab).split(' ');
    // Caught where the result is built (result.ts): the full-index way runs instead.
    if (stage !== '0') throw new Error(`the private index has a conflict entry for ${record.slice(tab + 1)}`);
    entries.set(record.slice(tab + 1), { mode, type: typeOfMode(mode), oid });
  }
  return entries;
}

interface NewTree {
  folder: string;
  oid: string;
  mktreeInput: string;
}

/** The rewritten folders, deepest first, the top last; each tree's id is computed here and checked against mktree's. */
function rewriteFolders(folders: string[], listings: Map<string, Listing>, touched: Set<string>, after: Map<string, TreeEntry>, idLength: number): NewTree[] {
  const made = new Map<string, string | undefined>();
  const trees: NewTree[] = [];
  for (const folder of folders) {
    const entries: Listing = new Map(listings.get(folder));
    for (const file of touched) {
      if (parentOf(file) !== folder) continue;
      const name = path.posix.basename(file);
      const entry = after.get(file);
      if (entry) entries.set(name, entry);
      else if (entries.get(name)?.type !== 'tree') entries.delete(name);
    }
    for (const [child, oid] of made) {
      if (parentOf(child) !== folder) continue;
      const name = path.posix.basename(child);
      if (oid) entries.set(name, { mode: '040000', type: 'tree', oid });
      else if (entries.get(name)?.type === 'tree') entries.delete(name);
    }
    if (entries.size === 0) {
      // git keeps no empty folders; an empty top is left to the full index.
      if (folder === '') throw new Error('the result has no files');
      made.set(folder, undefined);
      continue;
    }
    const tree = encodeTree(folder, entries, idLength);
    made.set(folder, tree.oid);
    trees.push(tree);
  }
  return trees;
}

/** A tree object as git writes it (entries in git's order: a folder sorts as if its name ended in '/'). */
function encodeTree(folder: string, entries: Listing, idLength: number): NewTree {
  const sortKey = (name: string, entry: TreeEntry) => Buffer.from(entry.type === 'tree' ? `${name}/` : name);
  const sorted = [...entries].sort(([a, x], [b, y]) => Buffer.compare(sortKey(a, x), sortKey(b, y)));
  const body = Buffer.concat(sorted.flatMap(([name, entry]) => [Buffer.from(`${entry.mode.replace(/^0/, '')} ${name}\0`), Buffer.from(entry.oid, 'hex')]));
  const hash = createHash(idLength === 64 ? 'sha256' : 'sha1');
  hash.update(`tree ${body.length}\0`);
  hash.update(body);
  const mktreeInput = sorted.map(([name, entry]) => `${entry.mode} ${entry.type} ${entry.oid}\t${name}\0`).join('');
  return { folder, oid: hash.digest('hex'), mktreeInput };
}
