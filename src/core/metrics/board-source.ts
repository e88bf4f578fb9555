// Reading a board into the collector: the whole event log for a report, the board's own counts to
// correct what the events alone cannot know (a log that began mid-run). Any board (file or Redis)
// through the async Board interface; the pool's resource log beside a file board or on the Redis server.
import type { Board } from '../board/interface';
import { EVENTS_START } from '../board/interface';
import { listAllTasks } from '../board/paging';
import type { BoardStats, Task } from '../board/types';
import { MetricsCollector, type MetricsOptions, type QueueCounts } from './collector';
import { readBoardResources } from './resource-log';
import type { DeadLetter } from './types';

/** What metrics need from a board. */
export type MetricsBoard = Pick<Board, 'readEvents' | 'follow' | 'list' | 'stats'>;

/** Counts the board's waiting and running tasks (from names only on a file board). */
export async function boardQueueCounts(board: Pick<Board, 'stats'>): Promise<QueueCounts> {
  return queueCountsOf(await board.stats());
}

/**
 * The same from stats already read. Delayed tasks (pending, not yet due) are told apart where the
 * board counts them (the file board's delayed/ folder); elsewhere all pending tasks count as waiting.
 */
export function queueCountsOf(stats: Pick<BoardStats, 'counts' | 'delayed'>): QueueCounts {
  const delayed = Math.min(stats.counts.pending, stats.delayed ?? 0);
  return { pending: stats.counts.pending - delayed, running: stats.counts.running, delayed };
}

export function deadLetterOf(task: Task): DeadLetter {
  return {
    taskId: task.id,
    title: task.title,
    attempts: task.attempts,
    at: task.lastError?.at ?? task.updatedAt,
    message: task.lastError?.message ?? 'No error was recorded.',
  };
}

export async function boardDeadLetters(board: Pick<Board, 'list'>): Promise<DeadLetter[]> {
  return (await listAllTasks(board, 'dead')).map(deadLetterOf);
}

/**
 * Replays the whole event log and the resource log, then takes queue counts and dead letters from
 * the board itself.
 */
export async function collectBoardMetrics(board: MetricsBoard, options: MetricsOptions = {}, now: number = Date.now()): Promise<MetricsCollector> {
  const collector = new MetricsCollector(options);
  for (const sample of await readBoardResources(board)) collector.addResourceSample(sample);
  let cursor = EVENTS_START;
  for (;;) {
    const batch = await board.readEvents(cursor, 5000);
    collector.addEvents(batch.events);
    if (batch.events.length === 0 || batch.cursor === cursor) break;
    cursor = batch.cursor;
  }
  collector.resyncQueue(await boardQueueCounts(board), now);
  collector.resyncDeadLetters(await boardDeadLetters(board));
  return collector;
}
