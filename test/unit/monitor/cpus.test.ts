// The CPUs a process may really use (monitor/cpus.ts): its affinity and its cgroup's CPU quota.
// Real processes first: one started inside a cgroup this test creates with a quota (you are root;
// cgroup v2 `cpu.max` where the cpu controller is on a v2 hierarchy, else the v1 cpu controller's
// `cpu.cfs_quota_us`), and one under taskset. Then the reading of both formats on fixture files,
// for the format the machine does not have and for paths a container or a crafted file gives.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupCpuLimit, usableCpuCount, type CgroupSources } from '../../../src/core/monitor/cpus';

const PRINT_CPUS = path.join(__dirname, 'fixtures', 'print-cpus.ts');
const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

interface Report {
  usable: number;
  limit: number | null;
  autoFor8: number;
  poolMaxAgents: number;
  youngProcessPercent: number;
}

/** Runs print-cpus.ts behind `prefix` (a shell line that ends in `exec "$@"`). */
function reportOf(prefix: string, ...prefixArgs: string[]): Report {
  const out = execFileSync('sh', ['-c', prefix, 'sh', ...prefixArgs, process.execPath, '--import', 'tsx', PRINT_CPUS], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out) as Report;
}

interface CpuHierarchy {
  version: 1 | 2;
  mountPoint: string;
}

/**
 * A hierarchy where this test can set a CPU quota: a mounted one (v2 offering the cpu controller,
 * else v1's cpu controller), or one it mounts itself where none is visible (a chroot without
 * /sys/fs/cgroup, as scripts/fresh-machine.sh makes).
 */
function cpuHierarchy(): CpuHierarchy {
  return mountedCpuHierarchy() ?? mountCpuHierarchy();
}

function mountedCpuHierarchy(): CpuHierarchy | undefined {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => {
    const [before, after = ''] = line.split(' - ');
    const [type = '', , superOptions = ''] = after.split(' ');
    return { type, superOptions: superOptions.split(','), mountPoint: before.split(' ')[4] ?? '' };
  });
  const v2 = mounts.find((mount) => mount.type === 'cgroup2' && offersCpu(mount.mountPoint));
  if (v2) return { version: 2, mountPoint: v2.mountPoint };
  const v1 = mounts.find((mount) => mount.type === 'cgroup' && mount.superOptions.includes('cpu'));
  return v1 && { version: 1, mountPoint: v1.mountPoint };
}

function mountCpuHierarchy(): CpuHierarchy {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-cgroup-mount-'));
  cleanups.push(() => fs.rmdirSync(mountPoint));
  const tries: string[] = [];
  for (const [version, args] of [[2, ['-t', 'cgroup2', 'none', mountPoint]], [1, ['-t', 'cgroup', '-o', 'cpu', 'none', mountPoint]]] as const) {
    try {
      execFileSync('mount', args, { stdio: 'pipe' });
    } catch (error) {
      tries.push(`mount ${args.join(' ')}: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`);
      continue;
    }
    if (version === 1 || offersCpu(mountPoint)) {
      cleanups.push(() => execFileSync('umount', [mountPoint]));
      return { version, mountPoint };
    }
    execFileSync('umount', [mountPoint]); // a v2 hierarchy without the cpu controller (v1 holds it)
    tries.push('cgroup2: the cpu controller is not offered');
  }
  assert.fail(`This test needs the cpu cgroup controller (and root): none is mounted, and mounting one failed (${tries.join('; ')}).`);
}

function offersCpu(mountPoint: string): boolean {
  return readOr(path.join(mountPoint, 'cgroup.controllers')).split(/\s+/).includes('cpu');
}

function readOr(file: string, fallback = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** A new cgroup below `parent` with a quota of `quotaUs` per 100 ms period (undefined: no quota). */
function makeCgroup(hierarchy: CpuHierarchy, parent: string, name: string, quotaUs: number | undefined): string {
  const dir = path.join(parent, name);
  if (hierarchy.version === 2) {
    // A v2 child gets cpu.max only when its parent hands the cpu controller down.
    if (!readOr(path.join(parent, 'cgroup.subtree_control')).split(/\s+/).includes('cpu')) fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+cpu');
  }
  fs.mkdirSync(dir);
  cleanups.push(() => fs.rmdirSync(dir));
  if (quotaUs === undefined) return dir;
  if (hierarchy.version === 2) fs.writeFileSync(path.join(dir, 'cpu.max'), `${quotaUs} 100000`);
  else {
    fs.writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '100000');
    fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  }
  return dir;
}

/** Runs print-cpus.ts as a member of the cgroup `dir` from its first instruction. */
function reportInCgroup(dir: string): Report {
  return reportOf('echo $$ > "$1/cgroup.procs" && shift && exec "$@"', dir);
}

describe('the CPUs this process may use', () => {
  it('counts its cgroup\'s CPU quota and its parents\' (a real cgroup, a real process in it): the pool sizes itself by it, the monitor caps one process\'s CPU % by it', () => {
    assert.equal(process.getuid?.(), 0, 'This test creates cgroups: run it as root.');
    const hierarchy = cpuHierarchy();
    const top = makeCgroup(hierarchy, hierarchy.mountPoint, `swarm-cpus-test-${process.pid}`, undefined);
    // Processes go only into leaves: cgroup v2 refuses one in a cgroup that hands controllers down.
    const oneCpu = makeCgroup(hierarchy, top, 'one-cpu', 100_000);
    const unlimitedBelowOne = makeCgroup(hierarchy, oneCpu, 'unlimited', undefined);
    const oneCpuLeaf = makeCgroup(hierarchy, top, 'one-cpu-leaf', 100_000);
    const oneAndAHalf = makeCgroup(hierarchy, top, 'one-and-a-half', 150_000);

    const machine = reportOf('exec "$@"');
    for (const [where, dir] of [['one-cpu-leaf', oneCpuLeaf], ['unlimited below one-cpu', unlimitedBelowOne]]) {
      const report = reportInCgroup(dir);
      assert.deepEqual(report, { usable: 1, limit: 1, autoFor8: 8, poolMaxAgents: 1, youngProcessPercent: 100 }, `a process in ${where} (cgroup v${hierarchy.version}); outside: ${JSON.stringify(machine)}`);
    }
    const report = reportInCgroup(oneAndAHalf);
    assert.equal(report.limit, 2, '1.5 CPUs count as 2');
    assert.equal(report.usable, Math.min(2, machine.usable));
  });

  it('counts its CPU affinity (taskset), except for the most CPU % the monitor grants one process (a child may widen its own)', () => {
    const report = reportOf('exec taskset -c 0 "$@"');
    assert.equal(report.usable, 1);
    assert.equal(report.autoFor8, 8);
    assert.equal(report.poolMaxAgents, 1);
    assert.equal(report.youngProcessPercent, Math.min(500, 100 * os.cpus().length));
  });
});

describe('reading cgroup CPU quotas (fixture files)', () => {
  function fixture(options: { mountinfo: string[]; cgroup: string[]; files: Record<string, string> }): { sources: CgroupSources; dir: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-cgroup-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    for (const [file, text] of Object.entries(options.files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    const mountinfo = options.mountinfo.map((line) => line.replaceAll('<dir>', dir.replaceAll(' ', '\\040'))).join('\n');
    fs.writeFileSync(path.join(dir, 'mountinfo'), `${mountinfo}\n`);
    fs.writeFileSync(path.join(dir, 'cgroup'), `${options.cgroup.join('\n')}\n`);
    return { dir, sources: { cgroupFile: path.join(dir, 'cgroup'), mountinfoFile: path.join(dir, 'mountinfo') } };
  }
  const v2Mount = '41 23 0:38 / <dir>/cg rw,relatime - cgroup2 cgroup2 rw';
  const v1Mount = '32 31 0:29 / <dir>/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct';

  it('cgroup v2: the smallest ceil(quota / period) from its cgroup up to the mount; "max" is no limit', () => {
    const { sources } = fixture({
      mountinfo: ['22 1 0:21 / / rw - ext4 /dev/root rw', v2Mount],
      cgroup: ['0::/a/b'],
      files: { 'cg/cpu.max': 'max 100000\n', 'cg/a/cpu.max': '250000 100000\n', 'cg/a/b/cpu.max': 'max 100000\n' },
    });
    assert.equal(cgroupCpuLimit(sources), 3);
    assert.equal(usableCpuCount(sources), Math.min(3, os.availableParallelism()));
  });

  it('cgroup v2: a child\'s quota below its parent\'s wins; no quota anywhere, or files that say nothing, is no limit', () => {
    const files = { 'cg/a/cpu.max': '400000 100000\n', 'cg/a/b/cpu.max': '50000 100000\n' };
    assert.equal(cgroupCpuLimit(fixture({ mountinfo: [v2Mount], cgroup: ['0::/a/b'], files }).sources), 1);
    assert.equal(usableCpuCount(fixture({ mountinfo: [v2Mount], cgroup: ['0::/a/b'], files }).sources), 1);
    const none = fixture({ mountinfo: [v2Mount], cgroup: ['0::/a/b'], files: { 'cg/a/b/cpu.max': 'max 100000\n' } }).sources;
    assert.equal(cgroupCpuLimit(none), undefined);
    assert.equal(usableCpuCount(none), os.availableParallelism());
    for (const text of ['', 'garbage', '0 100000', '100000 0', '-5 100000', '100000']) {
      assert.equal(cgroupCpuLimit(fixture({ mountinfo: [v2Mount], cgroup: ['0::/'], files: { 'cg/cpu.max': text } }).sources), undefined, JSON.stringify(text));
    }
    assert.equal(cgroupCpuLimit({ cgroupFile: '/nonexistent/cgroup', mountinfoFile: '/nonexistent/mountinfo' }), undefined);
  });

  it('a container: the mount shows its own cgroup at the mount point; a path outside what it shows reads the mount point only', () => {
    const containerMount = '41 23 0:38 /docker/abc <dir>/cg rw - cgroup2 cgroup2 rw';
    const files = { 'cg/cpu.max': '200000 100000\n', 'cg/inner/cpu.max': '100000 100000\n' };
    assert.equal(cgroupCpuLimit(fixture({ mountinfo: [containerMount], cgroup: ['0::/docker/abc'], files }).sources), 2);
    assert.equal(cgroupCpuLimit(fixture({ mountinfo: [containerMount], cgroup: ['0::/docker/abc/inner'], files }).sources), 1);
    assert.equal(cgroupCpuLimit(fixture({ mountinfo: [containerMount], cgroup: ['0::/docker/abcdef'], files }).sources), 2);
  });

  it('a crafted cgroup path with ".." does not read outside the mount', () => {
    const { sources, dir } = fixture({ mountinfo: [v2Mount], cgroup: ['0::/../outside'], files: { 'outside/cpu.max': '100000 100000\n' } });
    assert.ok(fs.existsSync(path.join(dir, 'outside', 'cpu.max')));
    assert.equal(cgroupCpuLimit(sources), undefined);
  });

  it('cgroup v1: cpu.cfs_quota_us over cpu.cfs_period_us of the cpu controller\'s cgroup and parents; -1 is no limit', () => {
    const cgroup = ['12:memory:/x', '4:cpu,cpuacct:/x/y', '1:name=systemd:/x'];
    const files = { 'cpu,cpuacct/x/cpu.cfs_quota_us': '150000\n', 'cpu,cpuacct/x/cpu.cfs_period_us': '100000\n', 'cpu,cpuacct/x/y/cpu.cfs_quota_us': '-1\n', 'cpu,cpuacct/x/y/cpu.cfs_period_us': '100000\n' };
    assert.equal(cgroupCpuLimit(fixture({ mountinfo: [v1Mount], cgroup, files }).sources), 2);
    const unlimited = { ...files, 'cpu,cpuacct/x/cpu.cfs_quota_us': '-1\n' };
    assert.equal(cgroupCpuLimit(fixture({ mountinfo: [v1Mount], cgroup, files: unlimited }).sources), undefined);
  });

  it('both (a hybrid machine): the smaller; a mount point with a space (escaped in mountinfo) is found', () => {
    const spaced = '41 23 0:38 / <dir>/uni\\040fied rw - cgroup2 cgroup2 rw';
    const { sources } = fixture({
      mountinfo: [v1Mount, spaced],
      cgroup: ['4:cpu,cpuacct:/', '0::/'],
      files: { 'cpu,cpuacct/cpu.cfs_quota_us': '300000\n', 'cpu,cpuacct/cpu.cfs_period_us': '100000\n', 'uni fied/cpu.max': '100000 100000\n' },
    });
    assert.equal(cgroupCpuLimit(sources), 1);
  });
});
