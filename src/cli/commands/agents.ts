// `swarm agents`: the pools of the hosts running on this board (swarm run, VS Code), read from
// their status files `<board>/hosts/<pid>.json`.
import { Command } from 'commander';
import type { FileBoardEngine as FileBoard } from '../../core/board';
import { formatBytes } from '../../core/format';
import { readHostStatuses, type HostStatus } from '../../core/pool';
import { escapeTerminal, formatDuration, printJson, printText } from '../format';

export function registerAgentsCommands(program: Command, openBoard: () => FileBoard): void {
  program
    .command('agents')
    .description('show the agents of every pool running on this board')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }) => {
      const hosts = readHostStatuses(openBoard().root);
      if (options.json) return printJson(hosts);
      printText(hosts.length === 0 ? 'No pool is running on this board (start one with "swarm run" or from VS Code).' : hosts.map(formatHost).join('\n\n'));
    });
}

function formatHost(host: HostStatus): string {
  const now = Date.now();
  const lines = [
    `Host ${field(host.hostPid)} · ${field(host.mode)} mode · ${field(host.isolation)} isolation · executor ${field(host.executor)} · up ${formatDuration(now - host.startedAt)}`,
    `  agents ${host.busy} busy, ${host.idle} idle, ${host.total} total (max ${host.maxAgents}) · tasks done ${host.tasksDone}, failed ${host.tasksFailed}`,
  ];
  if (host.sandbox) lines.push(`  ${host.sandbox.active ? `sandbox ${field(host.sandbox.tool ?? '')}, network ${host.sandbox.network ? 'on' : 'off'}` : `no sandbox: ${field(host.sandbox.reason ?? 'not available')}`}`);
  if (host.pausedUntil) lines.push(`  paused until ${new Date(host.pausedUntil).toISOString()}: ${field(host.pauseReason ?? '')}`);
  if (host.spawnBlockedReason) lines.push(`  not starting agents: ${field(host.spawnBlockedReason)}`);
  if (host.system) lines.push(`  system cpu ${Math.round(host.system.cpuPercent)}%, memory available ${formatBytes(host.system.availableMemBytes)} of ${formatBytes(host.system.totalMemBytes)}`);
  for (const agent of host.agents) {
    const task = agent.currentTask ? `${field(agent.currentTask.id)} "${field(agent.currentTask.title)}" for ${formatDuration(now - agent.currentTask.startedAt)}` : '-';
    const usage = agent.rssBytes !== undefined ? ` cpu ${Math.round(agent.cpuPercent ?? 0)}% rss ${formatBytes(agent.rssBytes)}` : '';
    lines.push(`  ${field(agent.id).padEnd(14)} pid ${field(agent.pid ?? '-').padEnd(7)} ${field(agent.state).padEnd(8)} done ${String(agent.tasksDone).padEnd(4)}${usage}  ${task}`);
  }
  return lines.join('\n');
}

/** Host status files are written by other processes: every field is escaped. */
function field(value: unknown): string {
  return escapeTerminal(String(value));
}
