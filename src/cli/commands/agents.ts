// `swarm agents`: the pools of every host working on this board (swarm run, VS Code, on this
// machine or others on a shared board), read from the host records on the board; a host whose
// record expired is listed as gone.
import { Command } from 'commander';
import type { Board } from '../../core/board';
import { formatBytes } from '../../core/format';
import { listHostStatuses, type HostView } from '../../core/pool';
import { currentTasksOf } from '../../core/pool/types';
import { escapeTerminal, formatDuration, printJson, printText } from '../format';

export function registerAgentsCommands(program: Command, openBoard: () => Promise<Board>): void {
  program
    .command('agents')
    .description('show the agents of every pool working on this board, on this machine and others')
    .option('--json', 'print JSON only')
    .action(async (options: { json?: boolean }) => {
      const hosts = await listHostStatuses(await openBoard());
      if (options.json) return printJson(hosts);
      const none = hosts.every((host) => host.gone) ? ['No pool is running on this board (start one with "swarm run" or from VS Code).'] : [];
      printText([...none, ...hosts.map(formatHost)].join('\n\n'));
    });
}

function formatHost(host: HostView): string {
  const now = Date.now();
  const machine = host.host !== undefined ? `on ${field(host.host)}, ` : '';
  const heard = `${machine}last heartbeat ${formatDuration(Math.max(0, now - host.updatedAt))} ago`;
  if (host.gone) {
    const tasks = host.agents.flatMap((agent) => currentTasksOf(agent).map((task) => field(task.id)));
    const held = tasks.length > 0 ? `; its tasks (${tasks.join(', ')}) come back to the board when their leases run out` : '';
    return `Host ${field(host.hostPid)} · gone (${heard})${held}`;
  }
  const lines = [
    `Host ${field(host.hostPid)} · ${field(host.mode)} mode · ${field(host.isolation)} isolation · executor ${field(host.executor)} · up ${formatDuration(now - host.startedAt)} · ${heard}`,
    `  agents ${host.busy} busy, ${host.idle} idle, ${host.total} total (max ${host.maxAgents}) · tasks done ${host.tasksDone}, failed ${host.tasksFailed}`,
  ];
  if (host.sandbox) lines.push(`  ${host.sandbox.active ? `sandbox ${field(host.sandbox.tool ?? '')}, network ${host.sandbox.network ? 'on' : 'off'}` : `no sandbox: ${field(host.sandbox.reason ?? 'not available')}`}`);
  if (host.pausedUntil) lines.push(`  paused until ${new Date(host.pausedUntil).toISOString()}: ${field(host.pauseReason ?? '')}`);
  if (host.spawnBlockedReason) lines.push(`  not starting agents: ${field(host.spawnBlockedReason)}`);
  if (host.system) lines.push(`  system cpu ${Math.round(host.system.cpuPercent)}%, memory available ${formatBytes(host.system.availableMemBytes)} of ${formatBytes(host.system.totalMemBytes)}`);
  for (const agent of host.agents) {
    // A batch: every task of it, not only the one that started last.
    const running = currentTasksOf(agent);
    const task = running.length > 0 ? running.map((current) => `${field(current.id)} "${field(current.title)}" for ${formatDuration(now - current.startedAt)}`).join(', ') : '-';
    const usage = agent.rssBytes !== undefined ? ` cpu ${Math.round(agent.cpuPercent ?? 0)}% rss ${formatBytes(agent.rssBytes)}` : '';
    lines.push(`  ${field(agent.id).padEnd(14)} pid ${field(agent.pid ?? '-').padEnd(7)} ${field(agent.state).padEnd(8)} done ${String(agent.tasksDone).padEnd(4)}${usage}  ${task}`);
  }
  return lines.join('\n');
}

/** Host status files are written by other processes: every field is escaped. */
function field(value: unknown): string {
  return escapeTerminal(String(value));
}
