// The Pool view's rows from PoolStats: capacity, agents, system figures, rate limiters; and the
// other hosts working on the same board (their records on the board). Pure.
import type { HostView } from '../../core/pool/status-file';
import { currentTasksOf, type AgentCurrentTask, type AgentInfo, type PoolStats } from '../../core/pool/types';
import type { EndpointState } from '../../core/ratelimit/types';
import { describeSandbox } from '../../core/sandbox/status';
import type { SandboxStatus } from '../../core/sandbox/types';
import { formatBytes, formatDuration, formatPercent, plural } from './format';

export interface PoolRow {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  icon: string;
  children?: PoolRow[];
}

export function capacityLabel(stats: PoolStats): string {
  return `${stats.busy}/${stats.maxAgents} busy`;
}

export function poolRows(stats: PoolStats, now: number): PoolRow[] {
  const rows: PoolRow[] = [
    {
      id: 'capacity',
      label: capacityLabel(stats),
      description: `${plural(stats.total, 'agent')} · ${stats.tasksDone} done · ${stats.tasksFailed} failed${stats.mode === 'sequential' ? ' · sequential' : ''}`,
      icon: stats.running ? 'server-process' : 'debug-stop',
    },
  ];
  if (stats.sandbox) rows.push(sandboxRow(stats.sandbox));
  if (stats.pausedUntil && stats.pausedUntil > now) rows.push({ id: 'paused', label: `Paused for ${formatDuration(stats.pausedUntil - now)}`, description: stats.pauseReason, icon: 'debug-pause' });
  if (stats.spawnBlockedReason) rows.push({ id: 'blocked', label: 'Not starting more agents', description: stats.spawnBlockedReason, tooltip: stats.spawnBlockedReason, icon: 'warning' });
  rows.push({ id: 'agents', label: 'Agents', description: String(stats.agents.length), icon: 'person', children: stats.agents.map((agent) => agentRow(agent, now)) });
  if (stats.system) {
    const used = stats.system.totalMemBytes - stats.system.availableMemBytes;
    rows.push({
      id: 'system',
      label: 'System',
      description: `CPU ${formatPercent(stats.system.cpuPercent)} · memory ${formatBytes(used)} / ${formatBytes(stats.system.totalMemBytes)}`,
      icon: 'dashboard',
    });
  }
  if (stats.limiters.length > 0) rows.push({ id: 'limiters', label: 'Rate limits', description: String(stats.limiters.length), icon: 'watch', children: stats.limiters.map((limiter) => limiterRow(limiter, now)) });
  return rows;
}

/** Whether commands run sandboxed; when not, why, and that changes outside worktrees are flagged. */
export function sandboxRow(sandbox: SandboxStatus): PoolRow {
  if (sandbox.active) {
    const tool = sandbox.tool === 'sandbox-exec' ? 'sandbox-exec' : 'bubblewrap';
    return { id: 'sandbox', label: `Sandbox: ${tool}`, description: `network ${sandbox.network ? 'on' : 'off'}`, tooltip: describeSandbox(sandbox), icon: 'shield' };
  }
  return { id: 'sandbox', label: 'No sandbox', description: sandbox.reason, tooltip: describeSandbox(sandbox), icon: 'warning' };
}

/** `rowId`: unique in the whole tree (another host's agents may have the same ids as this window's). */
export function agentRow(agent: AgentInfo, now: number, rowId = `agent:${agent.id}`): PoolRow {
  const figures: string[] = [agent.state];
  if (agent.cpuPercent !== undefined) figures.push(`CPU ${formatPercent(agent.cpuPercent)}`);
  if (agent.rssBytes !== undefined) figures.push(formatBytes(agent.rssBytes));
  figures.push(`up ${formatDuration(now - agent.startedAt)}`);
  const tasks = currentTasksOf(agent);
  const taskLine = (task: AgentCurrentTask) => `Task ${task.id} (attempt ${task.attempt}) for ${formatDuration(now - task.startedAt)}`;
  const batch = tasks.length > 1;
  return {
    id: rowId,
    label: batch ? `${agent.id}: ${tasks.length} tasks in one batch` : tasks.length === 1 ? `${agent.id}: ${tasks[0].title}` : agent.id,
    description: figures.join(' · '),
    tooltip: [
      `Agent ${agent.id}${agent.pid ? ` (pid ${agent.pid})` : ''}`,
      `State: ${agent.state}`,
      ...(tasks.length === 0 ? ['No task'] : batch ? [`${tasks.length} tasks in one command (a batch):`, ...tasks.map((task) => `  ${taskLine(task)}: ${task.title}`)] : [taskLine(tasks[0])]),
      `${agent.tasksDone} done, ${agent.tasksFailed} failed`,
    ].join('\n'),
    icon: agent.state === 'busy' ? 'loading~spin' : agent.state === 'idle' ? 'circle-outline' : agent.state === 'exited' ? 'circle-slash' : 'clock',
    // Every task of a batch under its agent, not only the one that started last.
    ...(batch ? { children: tasks.map((task) => ({ id: `${rowId}:task:${task.id}`, label: task.title, description: `${task.id} · attempt ${task.attempt} · ${formatDuration(now - task.startedAt)}`, tooltip: taskLine(task), icon: 'tasklist' })) } : {}),
  };
}


/**
 * Every other host on the board (this window's pool is `own`): its machine, agents, CPU and memory,
 * current tasks and last heartbeat; a host whose record expired is shown as gone.
 */
export function otherHostsRow(hosts: HostView[], own: { pid: number; host: string }, now: number): PoolRow | undefined {
  const others = hosts.filter((host) => !(host.hostPid === own.pid && (host.host === undefined || host.host === own.host)));
  if (others.length === 0) return undefined;
  const live = others.filter((host) => !host.gone).length;
  return { id: 'hosts', label: 'Other hosts on this board', description: `${live} running${live < others.length ? ` · ${others.length - live} gone` : ''}`, icon: 'remote', children: others.map((host) => hostRow(host, now)) };
}

function hostRow(host: HostView, now: number): PoolRow {
  const name = `${host.host ?? 'this machine'} · pid ${host.hostPid}`;
  const heard = `last heartbeat ${formatDuration(Math.max(0, now - host.updatedAt))} ago`;
  const id = `host:${host.host ?? ''}:${host.hostPid}`;
  if (host.gone) return { id, label: name, description: `gone · ${heard}`, tooltip: 'Its record on the board expired: the host stopped, crashed or lost the board. Tasks it held come back when their leases run out.', icon: 'debug-disconnect' };
  const figures = [`${host.busy}/${host.maxAgents} busy`];
  if (host.system) figures.push(`CPU ${formatPercent(host.system.cpuPercent)}`, `memory ${formatBytes(host.system.totalMemBytes - host.system.availableMemBytes)} / ${formatBytes(host.system.totalMemBytes)}`);
  figures.push(heard);
  return { id, label: name, description: figures.join(' · '), icon: 'vm', children: host.agents.map((agent) => agentRow(agent, now, `${id}:${agent.id}`)) };
}

function limiterRow(limiter: EndpointState, now: number): PoolRow {
  const paused = limiter.pausedUntil && limiter.pausedUntil > now ? ` · paused ${formatDuration(limiter.pausedUntil - now)}` : '';
  return {
    id: `limiter:${limiter.endpoint}`,
    label: limiter.endpoint,
    description: `${limiter.running} running · ${limiter.pending} waiting · ${limiter.recent429s} recent 429s${paused}`,
    icon: paused ? 'debug-pause' : 'pulse',
  };
}
