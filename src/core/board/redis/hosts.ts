// Host records on the Redis board: one key per host, `<base>:host:<id>`, inside the board's hash
// tag, with an expiry the server keeps (so no machine's clock decides whether a host is gone),
// and a sorted set of the ids so a reader finds them without scanning the keyspace (which a
// cluster would split by node). A key lives HOST_GONE_KEPT_MS past its host's time to live: while
// its remaining time is within that margin, the host is reported gone.
import type { Redis } from 'ioredis';
import { HOST_GONE_KEPT_MS, type HostEntry } from '../interface';
import { assertHostId } from '../hosts';
import { classifyRedisError } from './connection';

export class RedisHosts {
  constructor(
    private readonly client: Redis,
    private readonly base: string,
    private readonly where: string,
    private readonly user?: string,
  ) {}

  private key(id: string): string {
    return `${this.base}:host:${id}`;
  }

  private get index(): string {
    return `${this.base}:hosts`;
  }

  async put(id: string, status: object, ttlMs: number): Promise<void> {
    assertHostId(id);
    const ttl = Math.max(1, Math.round(ttlMs)) + HOST_GONE_KEPT_MS;
    await this.exec(() => this.client.multi().set(this.key(id), JSON.stringify(status), 'PX', ttl).zadd(this.index, Date.now(), id).exec());
  }

  async remove(id: string): Promise<void> {
    assertHostId(id);
    await this.exec(() => this.client.multi().del(this.key(id)).zrem(this.index, id).exec());
  }

  async list(): Promise<HostEntry[]> {
    const ids = await this.exec(() => this.client.zrange(this.index, 0, -1));
    if (ids.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.get(this.key(id)).pttl(this.key(id));
    const replies = (await this.exec(() => pipeline.exec())) ?? [];
    const entries: HostEntry[] = [];
    const vanished: string[] = [];
    ids.forEach((id, index) => {
      const text = replies[index * 2]?.[1];
      const ttl = Number(replies[index * 2 + 1]?.[1] ?? -2);
      if (typeof text !== 'string') return void vanished.push(id);
      try {
        entries.push({ id, status: JSON.parse(text) as unknown, gone: ttl >= 0 && ttl <= HOST_GONE_KEPT_MS });
      } catch {
        // Not JSON: not a record this board wrote.
      }
    });
    // Ids whose key expired for good: dropped from the index (a later put adds them back).
    if (vanished.length > 0) await this.exec(() => this.client.zrem(this.index, ...vanished)).catch(() => undefined);
    return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private async exec<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw classifyRedisError(error, this.where, { user: this.user });
    }
  }
}
