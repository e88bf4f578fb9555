// Names and records of the board's multi-file writes. A batch (`post` of one or more tasks, or a
// map task with its children) is written to tmp/ first, one file per task; then its commit record
// is renamed into batches/ — that rename is the commit of the whole batch — and the tasks are
// renamed into their queues. A crash before the record leaves only tmp files (deleted by repair,
// so nothing of the batch was posted); after it, repair rolls the batch forward and writes the
// `posted` events the writer did not get to. Either the whole batch is on the board, or none of it.
import * as fs from 'fs';
import * as path from 'path';
import { nonce } from './durable';

/** What the repair needs to finish a committed batch without the tasks' bodies. */
export interface BatchRecord {
  v: 1;
  batchId: string;
  pid: number;
  /** Size of events.jsonl at the commit: `posted` events of this batch can only come after it. */
  eventOffset: number;
  tasks: BatchTaskNote[];
}

export interface BatchTaskNote {
  id: string;
  title: string;
  parentId?: string;
  /** Set for a map parent: its number of children. */
  children?: number;
}

/** A file in tmp/: `<pid>.<nonce>.<tag>.json`. */
export interface TmpName {
  pid: number;
  kind: 'batch' | 'record' | 'legacy-map' | 'other';
  batchId?: string;
  taskId?: string;
  /** legacy-map: the parent whose commit decides (tmp files of boards written before batch records). */
  parentId?: string;
}

const TMP_PATTERN = /^(\d+)\.[0-9a-f]+\.(.+)\.json$/;

export function tmpFileName(tag: string): string {
  return `${process.pid}.${nonce()}.${tag}.json`;
}

export function batchTaskTag(batchId: string, taskId: string): string {
  return `batch.${batchId}.${taskId}`;
}

export function recordTag(batchId: string): string {
  return `record.${batchId}`;
}

export function parseTmpName(name: string): TmpName | undefined {
  const match = TMP_PATTERN.exec(name);
  if (!match) return undefined;
  const pid = Number(match[1]);
  const tag = match[2];
  const batch = /^batch\.([0-9a-f]+)\.([a-z0-9.]+)$/.exec(tag);
  if (batch) return { pid, kind: 'batch', batchId: batch[1], taskId: batch[2] };
  const record = /^record\.([0-9a-f]+)$/.exec(tag);
  if (record) return { pid, kind: 'record', batchId: record[1] };
  const legacyMap = /^map\.([a-z0-9]+)\.([a-z0-9.]+)$/.exec(tag);
  if (legacyMap) return { pid, kind: 'legacy-map', parentId: legacyMap[1], taskId: legacyMap[2] };
  return { pid, kind: 'other' };
}

export function readBatchRecord(file: string): BatchRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as BatchRecord;
    if (record?.v !== 1 || !Array.isArray(record.tasks) || typeof record.batchId !== 'string') return undefined;
    return record;
  } catch {
    return undefined;
  }
}

export function batchIdOfRecord(fileName: string): string | undefined {
  return /^([0-9a-f]+)\.json$/.exec(path.basename(fileName))?.[1];
}
