// Which repository a remote URL names, independent of how it is spelt, so a runner can tell that
// its clone of `https://github.com/a/b.git` is the repository a developer knows as
// `git@github.com:a/b.git`. Also strips credentials from URLs before they go onto a shared board.
import * as fs from 'fs';
import * as path from 'path';
import { RemoteGitError } from './errors';

const DEFAULT_PORTS: Record<string, string> = { ssh: '22', 'git+ssh': '22', 'ssh+git': '22', git: '9418', http: '80', https: '443' };

/** Hosts whose owner/repository paths are case-insensitive (GitHub redirects any spelling). */
const CASE_INSENSITIVE_HOSTS = new Set(['github.com', 'www.github.com']);

/** `[user@]host:path`, git's scp-like syntax (no scheme; a colon before the first slash). */
const SCP_LIKE = /^(?:([^@/:\s]+)@)?([^/:\s]+):(?!\/\/)(.+)$/;

export interface ParsedRemote {
  kind: 'host' | 'local';
  /** Lowercased host with a non-default port (`example.com:2222`); '' for a local path. */
  host: string;
  /** Repository path without leading/trailing slashes and `.git`; an absolute path when local. */
  path: string;
}

/**
 * The repository's identity: `host/owner/name` for hosted URLs (scheme, user, default port and
 * `.git` dropped), `file://<real path>` for a local repository. `baseDir` resolves relative paths.
 * Throws on an empty or unparseable URL.
 */
export function normaliseRepositoryUrl(url: string, baseDir = process.cwd()): string {
  const parsed = parseRemoteUrl(url, baseDir);
  return parsed.kind === 'local' ? `file://${parsed.path}` : `${parsed.host}/${parsed.path}`;
}

export function parseRemoteUrl(url: string, baseDir = process.cwd()): ParsedRemote {
  const text = url.trim();
  if (text === '' || /[\0\r\n]/.test(text)) throw notARepositoryUrl(`"${stripCredentials(text.replace(/[\0\r\n]/g, ' '))}" is not a repository URL.`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'file') return localRemote(decodeURIComponent(new URL(text).pathname), baseDir);
  if (scheme) return hostedRemote(text, scheme);
  const scp = SCP_LIKE.exec(text);
  // `C:\repo` and `./a:b` are local paths, not scp-like URLs (git's own rule: no slash before the colon).
  if (scp && !/^[a-zA-Z]$/.test(scp[2])) return { kind: 'host', host: scp[2].toLowerCase(), path: repositoryPath(scp[3], scp[2].toLowerCase()) };
  return localRemote(text, baseDir);
}

/** A remote URL nobody can clone from: the person fixes the remote, so it is a configuration error. */
function notARepositoryUrl(problem: string): RemoteGitError {
  return new RemoteGitError('config', `${problem} Fix the remote's URL (git remote set-url) or name another remote.`);
}

function hostedRemote(text: string, scheme: string): ParsedRemote {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw notARepositoryUrl(`"${stripCredentials(text)}" is not a repository URL.`);
  }
  const hostname = parsed.hostname.toLowerCase();
  if (!hostname) throw notARepositoryUrl(`"${stripCredentials(text)}" has no host.`);
  const port = parsed.port && parsed.port !== DEFAULT_PORTS[scheme] ? `:${parsed.port}` : '';
  return { kind: 'host', host: `${hostname}${port}`, path: repositoryPath(decodeURIComponent(parsed.pathname), hostname) };
}

function repositoryPath(raw: string, host: string): string {
  let clean = raw.replace(/\/{2,}/g, '/').replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (CASE_INSENSITIVE_HOSTS.has(host)) clean = clean.toLowerCase();
  if (clean === '') throw notARepositoryUrl(`The repository URL for ${host} has no path.`);
  return clean;
}

function localRemote(raw: string, baseDir: string): ParsedRemote {
  let resolved = path.resolve(baseDir, raw);
  try {
    resolved = fs.realpathSync(resolved);
  } catch {
    // A repository that does not exist (yet) on this machine: the resolved spelling is its identity.
  }
  // `repo/.git` and `repo` are the same repository.
  if (path.basename(resolved) === '.git') resolved = path.dirname(resolved);
  return { kind: 'local', host: '', path: resolved.replace(/\/+$/, '') || '/' };
}

/**
 * The URL without secrets, safe to store on a shared board: http(s) URLs lose their user and
 * password (tokens are often passed as the user name); ssh keeps the login user (`git@`) but not a password.
 */
export function stripCredentials(url: string): string {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/@]*)@(.*)$/.exec(url.trim());
  if (!match) return url.trim();
  const [, scheme, userInfo, rest] = match;
  if (/^https?$/i.test(scheme)) return `${scheme}://${rest}`;
  const user = userInfo.split(':')[0];
  return user ? `${scheme}://${user}@${rest}` : `${scheme}://${rest}`;
}

/** Whether a URL makes git read a path of this machine (a local repository) rather than a network host. */
export function isLocalUrl(url: string): boolean {
  try {
    return parseRemoteUrl(url, '/').kind === 'local';
  } catch {
    return false;
  }
}
