// Host records on the file board: `<board>/hosts/<id>.json`, one per running pool, rewritten
// atomically by its host (every second) with the moment it expires. A record past that moment is
// reported as gone (its host crashed or stopped renewing it) for a while, then removed by a reader.
import * as fs from 'fs';
import * as path from 'path';
import writeFileAtomic from 'write-file-atomic';
import { BoardInputError } from './types';
import { HOST_GONE_KEPT_MS, HOST_ID_PATTERN, type HostEntry } from './interface';
import { BOARD_FORMAT_VERSION } from './board';
import { HOST_RECORD_FORMAT_KEY } from './olderUsers';

/** Records written before they carried an expiry: live while rewritten within this long. */
const LEGACY_STALE_AFTER_MS = 30_000;

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

  list(): HostEntry[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const now = Date.now();
    const entries: HostEntry[] = [];
    for (const name of names) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : '';
      if (!HOST_ID_PATTERN.test(id)) continue;
      const entry = this.read(id, now);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** One record; one gone for longer than HOST_GONE_KEPT_MS is removed instead. */
  private read(id: string, now: number): HostEntry | undefined {
    const file = path.join(this.dir, `${id}.json`);
    let status: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      status = parsed as Record<string, unknown>;
    } catch {
      return undefined; // being replaced right now, or damaged: skipped this time
    }
    const expiresAt = typeof status.expiresAt === 'number' ? status.expiresAt : typeof status.updatedAt === 'number' ? status.updatedAt + LEGACY_STALE_AFTER_MS : 0;
    if (now - expiresAt > HOST_GONE_KEPT_MS) {
      fs.rmSync(file, { force: true });
      return undefined;
    }
    return { id, status, gone: now >= expiresAt };
  }
}
