// Other "machines" on this host for the runner tests: a network namespace per runner, joined to the
// host by a veth pair (the host side runs Redis and a git daemon for the origin), and a private
// mount namespace in which the developer's clone is hidden under an empty tmpfs, so a runner can
// reach the board and the origin over the network and nothing else of the developer's machine.
// Needs root (ip netns, mount); without it the test fails with a message saying so, never skips.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'child_process';
import * as net from 'net';
import { freePort } from '../../harness/redis';

export function assertRootForNamespaces(): void {
  if (process.getuid?.() !== 0) throw new Error('This test makes network namespaces (ip netns, veth) and mounts a tmpfs: run it as root (CI does). It does not skip.');
  const probe = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`ip netns is not usable here (${(probe.stderr || probe.error?.message || '').trim()}); install iproute2 and run as root.`);
}

function ip(args: string[]): void {
  const run = spawnSync('ip', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${run.stderr.trim()}`);
}

export interface Network {
  /** The one address every machine reaches the host's services at (Redis, git daemon). */
  serviceIp: string;
  remove(): void;
}

const subnet = 20 + (process.pid % 200);

/**
 * The host's service address, the same for the developer and every runner: a /32 on the host's
 * loopback link (a dummy link would need a kernel module that containers often lack).
 */
export function makeNetwork(): Network {
  const serviceIp = `10.${subnet}.0.1`;
  ip(['addr', 'add', `${serviceIp}/32`, 'dev', 'lo']);
  return { serviceIp, remove: () => void spawnSync('ip', ['addr', 'del', `${serviceIp}/32`, 'dev', 'lo']) };
}

export interface Machine {
  name: string;
  /** Runs a command inside the namespace, with `hidden` folders covered by an empty tmpfs. */
  spawn(command: string, args: string[], options: SpawnOptions & { hidden?: string[] }): ChildProcess;
  /** Takes the machine's link down (a partition: packets are dropped, connections hang), and back up. */
  cut(): void;
  restore(): void;
  remove(): void;
}

let made = 0;

/** A namespace with a veth link to the host (10.<a>.<b>.1 and .2, /30) and a route to the service address. */
export function makeMachine(label: string, network: Network): Machine {
  made += 1;
  const tag = `${process.pid % 100000}${made}`;
  const name = `swarm-${label}-${tag}`;
  const hostEnd = `swh${tag}`.slice(0, 15);
  const machineEnd = `swm${tag}`.slice(0, 15);
  const b = made % 250;
  const hostIp = `10.${subnet}.${b}.1`;
  const machineIp = `10.${subnet}.${b}.2`;
  ip(['netns', 'add', name]);
  try {
    ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', machineEnd]);
    ip(['link', 'set', machineEnd, 'netns', name]);
    ip(['addr', 'add', `${hostIp}/30`, 'dev', hostEnd]);
    ip(['link', 'set', hostEnd, 'up']);
    ip(['netns', 'exec', name, 'ip', 'addr', 'add', `${machineIp}/30`, 'dev', machineEnd]);
    ip(['netns', 'exec', name, 'ip', 'link', 'set', machineEnd, 'up']);
    ip(['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
    ip(['netns', 'exec', name, 'ip', 'route', 'add', `${network.serviceIp}/32`, 'via', hostIp]);
  } catch (error) {
    spawnSync('ip', ['netns', 'del', name]);
    spawnSync('ip', ['link', 'del', hostEnd]);
    throw error;
  }
  return {
    name,
    spawn: (command, args, options) => {
      const hide = (options.hidden ?? []).map((dir) => `mount -t tmpfs -o size=64k,mode=000 none '${dir.replace(/'/g, `'\\''`)}' && `).join('');
      const script = `${hide}exec "$@"`;
      return spawn('ip', ['netns', 'exec', name, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'machine', command, ...args], options);
    },
    cut: () => ip(['link', 'set', hostEnd, 'down']),
    restore: () => ip(['link', 'set', hostEnd, 'up']),
    remove: () => {
      spawnSync('ip', ['link', 'del', hostEnd]);
      spawnSync('ip', ['netns', 'del', name]);
    },
  };
}

/** A git daemon serving `baseDir` read-only on the given addresses; stopped by pid. */
export async function startGitDaemon(baseDir: string, addresses: string[]): Promise<{ port: number; url: (repo: string) => string; stop: () => Promise<void> }> {
  const port = await freePort();
  const listen = addresses.flatMap((address) => [`--listen=${address}`]);
  const child = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${baseDir}`, `--port=${port}`, ...listen, baseDir], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(addresses[0], port))) {
    if (child.exitCode !== null) throw new Error(`git daemon exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('git daemon did not start within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url: (repo) => `git://${addresses[0]}:${port}/${repo}`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

