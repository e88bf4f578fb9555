// Host records on the file board: `<board>/hosts/<id>.json`, one per running pool, rewritten
// atomically by its host (every second) with the moment it expires. A record past that moment is
// reported as gone (its host crashed or stopped renewing it) for a while, then removed by a reader.
import * as fs from 'fs';
import * as path from 'path';
import writeFileAtomic from 'write-file-atomic';
import { BoardInputError } from './types';
import { HOST_GONE_KEPT_MS, HOST_ID_PATTERN, type HostEntry } from './interface';
import { BOARD_FORMAT_VERSION } from './format';
import { readDirNames } from './durable';

/** Host records written by builds that know format 2 carry it; records without it are older (see olderUsers.ts). */
export const HOST_RECORD_FORMAT_KEY = 'boardFormat';
/** Records written before they carried an expiry: live while rewritten within this long. */
const LEGACY_STALE_AFTER_MS = 30_000;

/** A host record as its host wrote it, with the moment it expires. */
export interface StoredHostRecord {
  id: string;
  file: string;
  /** What the host wrote (JSON from another process: check each field's type before use). */
  status: Record<string, unknown>;
  expiresAt: number;
}

/**
 * Every readable record in `<root>/hosts`, in no particular order; one being replaced right now or
 * damaged is skipped. A missing folder is no records; an unreadable one throws.
 */
export function readHostRecords(root: string): StoredHostRecord[] {
  const dir = path.join(root, 'hosts');
  const records: StoredHostRecord[] = [];
  for (const name of readDirNames(dir)) {
    const id = name.endsWith('.json') ? name.slice(0, -5) : '';
    if (!HOST_ID_PATTERN.test(id)) continue;
    const record = readHostRecord(id, path.join(dir, name));
    if (record) records.push(record);
  }
  return records;
}

function readHostRecord(id: string, file: string): StoredHostRecord | undefined {
  let status: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    status = parsed as Record<string, unknown>;
  } catch {
    return undefined; // being replaced right now, or damaged: skipped this time
  }
  return { id, file, status, expiresAt: expiryOf(status) };
}

function expiryOf(status: Record<string, unknown>): number {
  if (typeof status.expiresAt === 'number') return status.expiresAt;
  return typeof status.updatedAt === 'number' ? status.updatedAt + LEGACY_STALE_AFTER_MS : 0;
}

export function assertHostId(id: string): void {
  if (typeof id !== 'string' || !HOST_ID_PATTERN.test(id)) throw new BoardInputError(`${JSON.stringify(id)} is not a host id: use 1-100 letters, digits, "_", "." or "-".`);
}

export class FileHosts {
  constructor(private readonly root: string) {}

  private get dir(): string {
    return path.join(this.root, 'hosts');
  }

  put(id: string, status: object, ttlMs: number): void {
    assertHostId(id);
    fs.mkdirSync(this.dir, { recursive: true });
    // No fsync: the record is rewritten every second and means nothing after a machine crash.
    // The format tells a newer build that this host sees its file leases (see olderUsers.ts).
    const record = { ...status, [HOST_RECORD_FORMAT_KEY]: BOARD_FORMAT_VERSION, expiresAt: Date.now() + ttlMs };
    writeFileAtomic.sync(path.join(this.dir, `${id}.json`), JSON.stringify(record), { fsync: false });
  }

  remove(id: string): void {
    assertHostId(id);
    fs.rmSync(path.join(this.dir, `${id}.json`), { force: true });
  }

  /** Every record, live or gone; one gone for longer than HOST_GONE_KEPT_MS is removed instead. */
  list(): HostEntry[] {
    let records: StoredHostRecord[];
    try {
      records = readHostRecords(this.root);
    } catch {
      return []; // the list only informs (views, status): an unreadable folder lists no hosts
    }
    const now = Date.now();
    const entries: HostEntry[] = [];
    for (const { id, file, status, expiresAt } of records) {
      if (now - expiresAt > HOST_GONE_KEPT_MS) fs.rmSync(file, { force: true });
      else entries.push({ id, status, gone: now >= expiresAt });
    }
    return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
