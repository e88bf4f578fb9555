// The pool's resource figures on the Redis board: the same JSON lines a file board keeps in
// metrics/resources.jsonl (core/metrics/resource-log.ts), in one list inside the board's hash tag,
// so `swarm report` on any machine knows the run's CPU and memory peaks. Every host appends its own
// lines (they carry its host id); the list keeps the newest RESOURCE_LINES_KEPT.
import type { Redis } from 'ioredis';
import { classifyRedisError } from './connection';

/** About 14 hours of one host's 5-second windows; a line is a few hundred bytes. */
export const RESOURCE_LINES_KEPT = 10_000;
/** A line longer than this is not one the pool wrote (hundreds of agents fit well below it). */
const MAX_LINE_BYTES = 256 * 1024;

export class RedisResources {
  constructor(
    private readonly client: Redis,
    private readonly base: string,
    private readonly where: string,
    private readonly user?: string,
  ) {}

  private get key(): string {
    return `${this.base}:resources`;
  }

  async append(line: string): Promise<void> {
    // A bug, not input: only the pool's resource monitor writes these lines, each a few hundred bytes.
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) throw new Error(`A resource line of ${Buffer.byteLength(line)} bytes is over the ${MAX_LINE_BYTES}-byte limit.`);
    await this.exec(() => this.client.multi().rpush(this.key, line).ltrim(this.key, -RESOURCE_LINES_KEPT, -1).exec());
  }

  /** Every kept line, oldest first. */
  read(): Promise<string[]> {
    return this.exec(() => this.client.lrange(this.key, 0, -1));
  }

  private async exec<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw classifyRedisError(error, this.where, { user: this.user });
    }
  }
}
