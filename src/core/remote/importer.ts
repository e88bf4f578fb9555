// Bringing another machine's bundle into a local repository, as untrusted input: size and checksum
// first, then the header (exactly the one expected head), then the prerequisites (fetching the
// remote when they are missing), a strict index of the pack, a walk that the commit is complete
// and its type and size, and only then a ref, in a namespace chosen here. The commit is the one the
// descriptor names: integrity by hash.
import * as fs from 'fs';
import * as path from 'path';
import { runGit } from '../worktree/git';
import { assertSingleHead, parseBundleHeader, sha256, type BundleHead, type BundleHeader } from './bundle';
import { megabytes, RemoteGitError, untrusted } from './errors';
import { strictIndexPackArg } from './objectChecks';
import { fetchHistory, type LocalRepository } from './repositories';

/** Default bound on the unpacked size of everything one bundle adds (a zip bomb stays a small file). */
export const DEFAULT_MAX_EXPANDED_BYTES = 2 * 1024 ** 3;

export interface BundleCheck {
  what: string;
  bytes: number;
  sha256?: string;
  cap: number;
  head: BundleHead;
}

/** Size, checksum and header of a bundle before it touches any repository. */
export function checkBundle(bundle: Buffer | undefined, check: BundleCheck): BundleHeader {
  if (!bundle) throw untrusted(`The ${check.what} bundle is missing (the task says it has ${check.bytes} bytes).`);
  if (bundle.length > check.cap) throw new RemoteGitError('too-large', `The ${check.what} bundle has ${megabytes(bundle.length)}, over this machine's ${megabytes(check.cap)} cap; raise the cap to accept it.`);
  if (bundle.length !== check.bytes) throw untrusted(`The ${check.what} bundle has ${bundle.length} bytes, but the task says ${check.bytes}; it was cut short or replaced.`);
  if (check.sha256 && sha256(bundle) !== check.sha256) throw untrusted(`The ${check.what} bundle does not match its checksum; it was changed after it was made.`);
  const header = parseBundleHeader(bundle);
  assertSingleHead(header, check.head, check.what);
  return header;
}

export interface ImportRequest {
  repository: LocalRepository;
  bundle: Buffer;
  header: BundleHeader;
  /** The local ref the head is written to (in a refs/swarm-* namespace). */
  into: string;
  what: string;
  /** Said when the prerequisites are missing even after a fetch: what the sender should do. */
  missingAdvice: string;
  maxExpandedBytes: number;
}

/**
 * Imports a checked bundle; on return `into` points at the expected commit. Call under the
 * repository's lock. The pack goes through `git index-pack --strict` rather than `git fetch`:
 * git 2.39 does not check objects fetched from a bundle at all, so a tree with a `.git` entry
 * would get in. The ref is written last, after every check passed.
 */
export async function importBundle(request: ImportRequest): Promise<string> {
  const { repository, header } = request;
  const cwd = repository.gitDir;
  const head = header.heads[0];
  // What `git bundle verify` would check is covered here, without writing the bundle to a file
  // for it: the header (parseBundleHeader), the prerequisites present as commits (ensureCommits),
  // the pack (index-pack); and what verify does not: every object the head needs is here, from the
  // bundle or the repository (the walk in assertCompleteAndBounded).
  await ensureCommits(repository, header.prerequisites, (missing) => `The ${request.what} builds on ${missing.map((id) => id.slice(0, 12)).join(', ')}, which ${where(repository)} does not have. ${request.missingAdvice}`);
  await indexPack(cwd, packOf(request.bundle), request.what);
  await assertCompleteAndBounded(cwd, head.commit, header.prerequisites, request);
  await runGit(['update-ref', request.into, head.commit], { cwd });
  return head.commit;
}

/** The pack after the bundle's header (parseBundleHeader checked that one follows). */
function packOf(bundle: Buffer): Buffer {
  return bundle.subarray(bundle.indexOf('\n\n') + 2);
}

async function indexPack(cwd: string, pack: Buffer, what: string): Promise<void> {
  const packDir = path.join(cwd, 'objects', 'pack');
  const before = new Set(listTempPacks(packDir));
  const result = await runGit(['index-pack', '--stdin', '--fix-thin', strictIndexPackArg()], { cwd, input: pack, okCodes: [1, 128] });
  if (result.code === 0) return;
  // A refused pack leaves its temporary files behind; remove the ones this run made.
  for (const name of listTempPacks(packDir)) if (!before.has(name)) fs.rmSync(path.join(packDir, name), { force: true });
  if (/No space left/i.test(result.stderr)) throw new RemoteGitError('disk-full', `Importing the ${what} failed: the disk is full (${lastLines(result.stderr)}). Free space and try again.`);
  throw untrusted(`git refused the ${what} bundle: ${lastLines(result.stderr)}`);
}

function listTempPacks(packDir: string): string[] {
  try {
    return fs.readdirSync(packDir).filter((name) => name.startsWith('tmp_'));
  } catch {
    return [];
  }
}

/** Makes sure every commit is present, fetching the remote once when some are missing. */
export async function ensureCommits(repository: LocalRepository, commits: string[], explain: (missing: string[]) => string): Promise<void> {
  let missing = await missingCommits(repository.gitDir, commits);
  if (missing.length > 0 && repository.fetchFrom) {
    await fetchHistory(repository);
    missing = await missingCommits(repository.gitDir, commits);
  }
  if (missing.length > 0) throw new RemoteGitError('missing-base', explain(missing));
}

async function missingCommits(cwd: string, commits: string[]): Promise<string[]> {
  if (commits.length === 0) return [];
  const result = await runGit(['cat-file', '--batch-check=%(objectname) %(objecttype)'], { cwd, input: commits.map((id) => `${id}\n`).join('') });
  const present = new Set(
    result.stdout
      .toString('utf8')
      .split('\n')
      .filter((line) => line.endsWith(' commit'))
      .map((line) => line.split(' ')[0]),
  );
  return commits.filter((id) => !present.has(id));
}

/**
 * Every object the commit needs is here (the walk fails on a missing one), and what the bundle
 * added unpacks to no more than the bound (a zip bomb stays a small file until checkout).
 */
async function assertCompleteAndBounded(cwd: string, commit: string, prerequisites: string[], request: ImportRequest): Promise<void> {
  const objects = await runGit(['rev-list', '--objects', '--no-object-names', commit, '--not', ...prerequisites], { cwd, okCodes: [128] });
  if (objects.code !== 0) throw untrusted(`The ${request.what} bundle is incomplete (${lastLines(objects.stderr)}); refusing it.`);
  const listed = (await runGit(['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], { cwd, input: objects.stdout })).stdout.toString('utf8').split('\n');
  // The walk lists the head first when it is a commit the prerequisites do not already reach; only
  // otherwise is its type asked for on its own.
  const first = listed[0]?.split(' ');
  const headIsCommit = first?.[0] === commit ? first[1] === 'commit' : (await runGit(['cat-file', '-t', commit], { cwd, okCodes: [1, 128] })).stdout.toString('utf8').trim() === 'commit';
  if (!headIsCommit) throw untrusted(`The ${request.what} bundle does not contain its head commit ${commit.slice(0, 12)}; refusing it.`);
  let total = 0;
  for (const line of listed) total += Number(line.split(' ')[2]) || 0;
  if (total > request.maxExpandedBytes) {
    throw new RemoteGitError('too-large', `The ${request.what} unpacks to ${megabytes(total)}, over this machine's ${megabytes(request.maxExpandedBytes)} bound; refusing it.`);
  }
}

export async function deleteRef(cwd: string, ref: string): Promise<void> {
  await runGit(['update-ref', '-d', ref], { cwd, okCodes: [1] });
}

function where(repository: LocalRepository): string {
  if (!repository.fetchFrom) return `this machine's copy of the repository (it has no remote to fetch from)`;
  return `the remote (${repository.url ?? repository.fetchFrom}, fetched just now)`;
}

function lastLines(stderr: string): string {
  return stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500) || 'no message';
}
