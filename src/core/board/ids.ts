// Task ids: made from the clock so that ids sort by creation time, shared by the file and the Redis board.
import type { TaskSpec } from './types';
import { type StoredTask, buildStoredTask } from './schema';
import { nonce } from './durable';

/** The id clock of this process: the time of the last id and how many ids were made at it. */
let lastIdTime = 0;
let idCounter = 0;
const IDS_PER_MILLISECOND = 36 * 36; // the two base-36 counter characters

/**
 * A new task id and the creation time it encodes: base-36 time, a counter, and randomness (for
 * other processes). Within a process every id is new and later ids sort after earlier ones, also
 * for a batch of more ids than the counter holds: the clock then runs ahead by a millisecond
 * (a wrapping counter gave the 1,297th task of one post the id of the first, which overwrote it).
 */
export function newTaskIdentity(now: number): { id: string; createdAt: number } {
  if (now > lastIdTime) {
    lastIdTime = now;
    idCounter = 0;
  } else if (++idCounter >= IDS_PER_MILLISECOND) {
    lastIdTime += 1;
    idCounter = 0;
  }
  return { id: `t${lastIdTime.toString(36)}${idCounter.toString(36).padStart(2, '0')}${nonce(2)}`, createdAt: lastIdTime };
}

export function newTaskId(now: number): string {
  return newTaskIdentity(now).id;
}

/** Stored tasks for a batch of specs, each with its own new id and the creation time it encodes. */
export function storedTasksOf(specs: readonly TaskSpec[], now: number): StoredTask[] {
  return specs.map((spec) => {
    const { id, createdAt } = newTaskIdentity(now);
    return buildStoredTask(spec, id, createdAt);
  });
}

/** The id of the n-th child of a map task (both boards number a map's own children this way). */
export function mapChildId(parentId: string, index: number): string {
  return `${parentId}.${String(index).padStart(4, '0')}`;
}
