// The sandbox's pure parts: the policy built from an attempt's paths, the bubblewrap arguments and
// the macOS profile generated from it (text; sandbox-exec cannot run here), the reading of refusal
// messages, and the mode decision (auto / required / off) including a machine without bwrap.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  RefusalCollector,
  SandboxUnavailableError,
  buildSandboxPolicy,
  bwrapArgs,
  describeSandbox,
  forgetSandboxProbes,
  refusedPathOf,
  resolveSandbox,
  sbplString,
  seatbeltProfile,
  DEFAULT_SANDBOX_SETTINGS,
} from '../../../src/core/sandbox';
import { tempDir } from './helpers';

test('cache folders the environment names (npm_config_cache as every npm script sets it, XDG_CACHE_HOME, ...) are writable; never $HOME, / or a folder holding $HOME', () => {
  const root = tempDir('swarm-policy-env-');
  const home = path.join(root, 'home');
  const npmCache = path.join(root, 'elsewhere', 'npm-cache');
  const xdg = path.join(root, 'xdg');
  for (const dir of [home, npmCache, xdg]) fs.mkdirSync(dir, { recursive: true });
  const slot = path.join(root, 'slot');
  fs.mkdirSync(slot);
  const policy = buildSandboxPolicy({
    scope: { cwd: slot, writable: [slot], protect: [] },
    settings: { network: true, cacheDirs: [], allowWrite: [] },
    env: { HOME: home, PATH: '/usr/bin', npm_config_cache: npmCache, XDG_CACHE_HOME: xdg, PIP_CACHE_DIR: 'relative/pip', YARN_CACHE_FOLDER: root, GOCACHE: '/', GOMODCACHE: home },
  });
  assert.deepEqual(policy.mounts, [
    { path: npmCache, write: true },
    { path: xdg, write: true },
    { path: slot, write: true },
  ]);
});

test('the policy layers: caches and allowWrite, then protected folders, then the slot, then protected files; paths resolved', () => {
  const root = tempDir('swarm-policy-');
  const home = path.join(root, 'home');
  const repo = path.join(root, 'repo');
  const slot = path.join(repo, '.git', 'swarm', 'slot-s1');
  for (const dir of [home, path.join(home, '.cargo', 'registry'), slot, path.join(repo, '.git', 'objects'), path.join(root, 'extra')]) fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(slot, '.git'), 'gitdir: x\n');
  fs.symlinkSync(path.join(root, 'extra'), path.join(root, 'extra-link'));
  const policy = buildSandboxPolicy({
    scope: { cwd: slot, writable: [slot, path.join(repo, '.git', 'objects'), path.join(root, 'missing')], protect: [repo, path.join(repo, '.git')], protectAfter: [path.join(slot, '.git')], readable: [repo] },
    settings: { network: false, cacheDirs: ['.npm', '.cache', '.cargo/registry', '.yarn'], allowWrite: ['~/notes', path.join(root, 'extra-link')] },
    homeState: ['.claude'],
    env: { HOME: home, PATH: `/usr/bin:${root}/bin:relative/bin` },
  });
  assert.ok(fs.existsSync(path.join(home, '.npm')) && fs.existsSync(path.join(home, '.cache')), '.npm and .cache are created');
  assert.equal(fs.existsSync(path.join(home, '.yarn')), false, 'other caches are only used when present');
  assert.deepEqual(policy.mounts, [
    { path: path.join(home, '.npm'), write: true },
    { path: path.join(home, '.cache'), write: true },
    { path: path.join(home, '.cargo', 'registry'), write: true },
    { path: path.join(root, 'extra'), write: true }, // through the symlink, to the real folder
    // repo and repo/.git are not inside anything writable: already read-only, so left out
    { path: slot, write: true },
    { path: path.join(repo, '.git', 'objects'), write: true },
    { path: path.join(slot, '.git'), write: false },
  ]);
  assert.deepEqual(policy.visible, [repo, slot, home, '/usr/bin']);
  assert.equal(policy.network, false);
  assert.deepEqual(policy.masked, [], 'no daemon socket here to hide');
});

test('bwrap arguments: read-only root, private /tmp, visible paths under /tmp, layers in order, no network', () => {
  const policy = { mounts: [{ path: '/tmp/x/repo/.git/slot', write: true }, { path: '/tmp/x/repo/.git/slot/.git', write: false }], visible: ['/tmp/x/repo', '/tmp/x/repo/sub', '/home/u', '/tmp'], network: false };
  assert.deepEqual(bwrapArgs(policy, '/tmp/x/repo/.git/slot', ['/bin/sh', '-c', 'make']), [
    '--die-with-parent', '--unshare-pid', '--cap-drop', 'ALL', '--unshare-net',
    '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
    '--ro-bind', '/tmp/x/repo', '/tmp/x/repo',
    '--bind', '/tmp/x/repo/.git/slot', '/tmp/x/repo/.git/slot',
    '--ro-bind', '/tmp/x/repo/.git/slot/.git', '/tmp/x/repo/.git/slot/.git',
    '--chdir', '/tmp/x/repo/.git/slot', '--setenv', 'TMPDIR', '/tmp',
    '--', '/bin/sh', '-c', 'make',
  ]);
  assert.ok(!bwrapArgs({ ...policy, network: true }, '/', ['true']).includes('--unshare-net'));
});

test('bwrap arguments: a folder under /tmp that a layer binds whole is not bound read-only first', () => {
  const policy = { mounts: [{ path: '/tmp/w', write: true }, { path: '/tmp/w/.git', write: false }], visible: ['/tmp/w', '/tmp/w/sub', '/tmp/v', '/tmp/v/w'], network: true };
  const args = bwrapArgs(policy, '/tmp/w', ['true']);
  const binds = args.flatMap((arg, index) => (arg === '--ro-bind' || arg === '--bind' ? [`${arg} ${args[index + 1]}`] : []));
  assert.deepEqual(binds, ['--ro-bind /', '--ro-bind /tmp/v', '--bind /tmp/w', '--ro-bind /tmp/w/.git']);
});

test('the macOS profile: writes denied but for devices, temp, the layers in order; network off; strings escaped', () => {
  const profile = seatbeltProfile({ mounts: [{ path: '/Users/u/.npm', write: true }, { path: '/Users/u/w "q"\\x', write: true }, { path: '/Users/u/w "q"\\x/.git', write: false }], visible: [], network: false, tmpDir: '/private/var/folders/t/swarm-sandbox-1' });
  assert.equal(
    profile,
    [
      '(version 1)',
      '(allow default)',
      '(deny file-write*)',
      '(allow file-write* (literal "/dev/null") (literal "/dev/zero") (literal "/dev/tty") (literal "/dev/dtracehelper") (regex #"^/dev/fd/") (regex #"^/dev/ttys[0-9]+$"))',
      '(allow file-write* (subpath "/private/var/folders/t/swarm-sandbox-1"))',
      '(allow file-write* (subpath "/Users/u/.npm"))',
      '(allow file-write* (subpath "/Users/u/w \\"q\\"\\\\x"))',
      '(deny file-write* (subpath "/Users/u/w \\"q\\"\\\\x/.git"))',
      '(deny network-outbound (remote ip))',
      '(deny network-inbound (local ip))',
      '',
    ].join('\n'),
  );
  assert.equal(sbplString('a\nb'), '"a\\x0ab"');
  assert.doesNotMatch(seatbeltProfile({ mounts: [], visible: [], network: true }), /network/);
});

test('refused writes are read from the messages of common tools', () => {
  const cases: Array<[string, string | undefined]> = [
    ["touch: cannot touch '/w/a.txt': Read-only file system", '/w/a.txt'],
    ['touch: cannot touch ‘/w/q.txt’: Read-only file system', '/w/q.txt'],
    ['sh: 1: cannot create ../x/b.txt: Read-only file system', '../x/b.txt'],
    ['bash: line 1: /w/c.txt: Read-only file system', '/w/c.txt'],
    ['/bin/sh: /w/d.txt: Read-only file system', '/w/d.txt'],
    ['error: could not lock config file /r/.git/config: Read-only file system', '/r/.git/config'],
    ["fatal: Unable to create '/r/.git/index.lock': Read-only file system", '/r/.git/index.lock'],
    ["Error: EROFS: read-only file system, open '/w/e.json'", '/w/e.json'],
    ["OSError: [Errno 30] Read-only file system: '/w/f.py'", '/w/f.py'],
    ['open /w/g.go: read-only file system', '/w/g.go'],
    ["npm error EROFS: read-only file system, mkdir '/h/.npm/_cacache'", '/h/.npm/_cacache'],
    ['Error: Read-only file system (os error 30)', undefined],
  ];
  for (const [line, expected] of cases) assert.equal(refusedPathOf(line), expected, line);

  const collector = new RefusalCollector('/work/slot', 'bwrap');
  collector.write("touch: cannot touch '/w/a.t");
  collector.write("xt': Read-only file system\nsh: 1: cannot create ../up.txt: Read-only file system\nall fine\ntouch: /w/p: Operation not permitted");
  assert.deepEqual(collector.finish(), ['/w/a.txt', '/work/up.txt'], 'split lines joined, relative paths resolved, EPERM ignored under bwrap');
  const mac = new RefusalCollector('/w', 'sandbox-exec');
  mac.write('touch: /Users/u/x: Operation not permitted\n');
  assert.deepEqual(mac.finish(), ['/Users/u/x']);
});

test('modes: off never probes; auto without bwrap runs unsandboxed and says why; required refuses, naming the install command', () => {
  forgetSandboxProbes();
  const noBwrap = { env: { PATH: tempDir('swarm-nopath-') }, platform: 'linux' as const };
  const off = resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, mode: 'off' }, noBwrap);
  assert.deepEqual(off.status, { mode: 'off', active: false, network: true, reason: 'the sandbox is switched off (sandbox "off")' });
  const auto = resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, mode: 'auto' }, noBwrap);
  assert.equal(auto.status.active, false);
  assert.equal(auto.active, undefined);
  assert.match(auto.status.reason ?? '', /bubblewrap \(bwrap\) is not installed; install it with: sudo apt-get install bubblewrap/);
  assert.match(describeSandbox(auto.status), /^Sandbox: none \(bubblewrap .*detected and flagged/);
  assert.throws(() => resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, mode: 'required' }, noBwrap), (error: unknown) => {
    assert.ok(error instanceof SandboxUnavailableError);
    assert.match(error.message, /required.*sudo apt-get install bubblewrap.*Nothing was run/s);
    return true;
  });
  const elsewhere = resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, mode: 'auto' }, { platform: 'win32' });
  assert.match(elsewhere.status.reason ?? '', /no sandbox is supported on win32/);
});

test('auto with a working bwrap: active, and the probe ran once', { skip: process.platform !== 'linux' && 'bubblewrap is Linux only' }, () => {
  forgetSandboxProbes();
  const first = resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, network: false });
  assert.equal(first.status.active, true, first.status.reason);
  assert.deepEqual(first.active, { tool: 'bwrap', network: false, cacheDirs: DEFAULT_SANDBOX_SETTINGS.cacheDirs, allowWrite: [] });
  assert.match(describeSandbox(first.status), /^Sandbox: bubblewrap, network off/);
  const started = Date.now();
  resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, network: false });
  assert.ok(Date.now() - started < 5, 'remembered');
});
