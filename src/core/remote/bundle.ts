// Git bundles as untrusted input and as bounded output. A bundle's header (format, prerequisites,
// heads) is parsed here before git sees the file, so a bundle that names refs other than the one
// the task expects, carries a partial (filtered) pack or an oversized header is refused outright.
// Bundles are created by streaming `git bundle create -` with a byte cap, so an oversized snapshot
// never fills memory or disk.
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import { sendSignal } from '../process/liveness';
import { gitEnvironment } from '../worktree/git';
import { untrusted } from './errors';

export interface BundleHead {
  commit: string;
  ref: string;
}

export interface BundleHeader {
  version: 2 | 3;
  prerequisites: string[];
  heads: BundleHead[];
}

/** Largest header accepted (prerequisite and head lines); a real snapshot bundle has a few lines. */
const MAX_HEADER_BYTES = 64 * 1024;
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function isObjectId(value: unknown): value is string {
  return typeof value === 'string' && OBJECT_ID.test(value);
}

/** Parses the header of a v2/v3 bundle; throws an `untrusted-input` error on anything unexpected. */
export function parseBundleHeader(bundle: Buffer): BundleHeader {
  const end = bundle.subarray(0, MAX_HEADER_BYTES + 1).indexOf('\n\n');
  if (end < 0) throw untrusted(bundle.length > MAX_HEADER_BYTES ? 'The bundle header is over 64 KB; refusing it.' : 'The data is not a git bundle (no header).');
  const lines = bundle.subarray(0, end).toString('utf8').split('\n');
  const signature = lines.shift();
  const version = signature === '# v2 git bundle' ? 2 : signature === '# v3 git bundle' ? 3 : undefined;
  if (!version) throw untrusted('The data is not a git bundle (unknown signature).');
  if (bundle.subarray(end + 2, end + 6).toString('latin1') !== 'PACK') throw untrusted('The bundle has no pack after its header.');
  const header: BundleHeader = { version, prerequisites: [], heads: [] };
  for (const line of lines) {
    if (line.startsWith('@')) {
      // Only the object format is accepted: `@filter` (a partial pack) would leave the snapshot incomplete.
      if (version !== 3 || !/^@object-format=(sha1|sha256)$/.test(line)) throw untrusted(`The bundle has an unsupported capability "${line.slice(0, 80)}".`);
      continue;
    }
    if (line.startsWith('-')) {
      const commit = line.slice(1).split(' ')[0];
      if (!isObjectId(commit)) throw untrusted('The bundle has a malformed prerequisite line.');
      header.prerequisites.push(commit);
      continue;
    }
    const space = line.indexOf(' ');
    const commit = line.slice(0, space);
    const ref = line.slice(space + 1);
    if (space < 0 || !isObjectId(commit) || !/^refs\/[\x21-\x7e]+$/.test(ref)) throw untrusted('The bundle has a malformed head line.');
    header.heads.push({ commit, ref });
  }
  return header;
}

/** Refuses a bundle unless it carries exactly one head: `ref` at `commit`. */
export function assertSingleHead(header: BundleHeader, expected: BundleHead, what: string): void {
  const names = header.heads.map((head) => `${head.ref} ${head.commit.slice(0, 12)}`).join(', ') || 'nothing';
  if (header.heads.length !== 1 || header.heads[0].ref !== expected.ref || header.heads[0].commit !== expected.commit) {
    throw untrusted(`The ${what} bundle carries ${names}, but the task names only ${expected.ref} ${expected.commit.slice(0, 12)}; refusing it.`);
  }
}

export function sha256(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export interface CappedOutput {
  /** stdout, when it fit under the cap. */
  data?: Buffer;
  /** Bytes written (counted on past the cap up to `countLimit`). */
  size: number;
  /** The size is a lower bound: counting stopped at `countLimit`. */
  atLeast: boolean;
}

/**
 * Runs git and keeps its stdout only while it stays under `capBytes`; past the cap it keeps
 * counting (discarding) so the caller can say how big the output would be, and stops git at
 * `countLimit` bytes. A failing git rejects with its stderr.
 */
export function runGitCapped(args: string[], cwd: string, capBytes: number, countLimit = capBytes * 16): Promise<CappedOutput> {
  return new Promise((resolve, reject) => {
    // Its own process group: stopping it must stop `git pack-objects` too, which writes the output.
    const child = spawn('git', args, { cwd, env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let stopped = false;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= capBytes) chunks.push(chunk);
      else chunks.length = 0;
      if (size >= countLimit && !stopped && child.pid) {
        stopped = true;
        sendSignal(-child.pid, 'SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (stopped) return resolve({ size, atLeast: true });
      if (code !== 0) return reject(new Error(`git ${args.join(' ')} failed (exit ${code}): ${stderr.trim() || 'no message'}`));
      resolve({ data: size <= capBytes ? Buffer.concat(chunks) : undefined, size, atLeast: false });
    });
  });
}
