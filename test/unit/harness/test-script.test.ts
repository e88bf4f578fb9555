// scripts/test.sh, the one test command: this machine has every Debian package the tests need
// (the check names what is missing), and a user who can neither be root nor use sudo gets the
// list and the command to run, before anything is installed or run.
//   node scripts/run-unit-tests.js test/unit/harness/test-script.test.ts
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'test.sh');
const DEBIAN = fs.existsSync('/usr/bin/dpkg-query') ? false : 'checks Debian packages: needs dpkg (Debian/Ubuntu)';

function runScript(args: string[], options: { env?: NodeJS.ProcessEnv; asNobody?: boolean; script?: string } = {}) {
  const script = options.script ?? SCRIPT;
  const [command, commandArgs] = options.asNobody
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', script, ...args]]
    : [script, args];
  return spawnSync(command, commandArgs, { cwd: os.tmpdir(), encoding: 'utf8', env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

describe('scripts/test.sh', { skip: DEBIAN }, () => {
  const fakeBin = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-test-sh-'));
  after(() => fs.rmSync(fakeBin, { recursive: true, force: true }));

  it('--check: every Debian package the tests need is installed on this machine', () => {
    const result = runScript(['--check']);
    assert.equal(result.status, 0, `${result.stderr}${result.stdout}`);
    assert.match(result.stdout, /system packages: all \d+ installed/);
  });

  it('without root or sudo, a machine that lacks packages gets their names and the command, and nothing runs', () => {
    // A fresh machine, as far as the script can tell: dpkg says bubblewrap and redis-server are not
    // installed, and sudo refuses (as it does without a password and a terminal).
    fs.writeFileSync(
      path.join(fakeBin, 'dpkg-query'),
      '#!/bin/sh\nfor last; do :; done\ncase "$last" in bubblewrap|redis-server) echo "unknown ok not-installed"; exit 0;; esac\nexec /usr/bin/dpkg-query "$@"\n',
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(fakeBin, 'sudo'), '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n', { mode: 0o755 });
    fs.chmodSync(fakeBin, 0o755);
    // A copy the nobody user can read wherever this checkout lives (/root is not readable to it);
    // the script stops at the packages, before it needs anything else of the checkout.
    const copy = path.join(fakeBin, 'checkout', 'scripts', 'test.sh');
    fs.mkdirSync(path.dirname(copy), { recursive: true, mode: 0o755 });
    fs.copyFileSync(SCRIPT, copy);
    fs.chmodSync(copy, 0o755);
    // As root the script runs as the nobody user; otherwise this user is already not root.
    const result = runScript([], { script: copy, asNobody: process.getuid?.() === 0, env: { PATH: `${fakeBin}:${process.env.PATH}`, HOME: fakeBin } });
    assert.equal(result.status, 1, `${result.stderr}${result.stdout}`);
    assert.equal(
      result.stderr,
      'scripts/test.sh: these Debian packages are missing: bubblewrap redis-server. Install them as root (sudo apt-get install -y --no-install-recommends bubblewrap redis-server) and run this again.\n',
    );
    assert.doesNotMatch(result.stdout, /npm|code-server/, 'stops before npm ci, code-server and the tests');
  });

  it('refuses an unknown option with the ones it knows', () => {
    const result = runScript(['--fast']);
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'scripts/test.sh: unknown option "--fast" (use --setup-only, --no-setup or --check)\n');
  });
});
