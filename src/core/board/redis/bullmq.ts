// BullMQ's own Lua scripts, run inside ours. A claim, a completion, a cancel or a requeue changes
// our task record and BullMQ's job in one script, so each is one atomic step on the server and one
// round trip: there is no moment at which a crash leaves one changed and not the other, and the
// server runs one script per step where sending BullMQ's command beside ours ran two (about half
// of a cycle's server time was the per-script overhead, measured with INFO commandstats).
//
// Each BullMQ script is wrapped, unchanged, as a Lua function whose parameters are named KEYS and
// ARGV, so its body reads the arguments we give it instead of the call's. What we give it follows
// the KEYS/ARGV layout its header documents; `bullmqLayoutProblem()` compares those headers with
// the layout below, so a BullMQ release that changes one is refused when the board opens, with a
// message that says so, instead of misbehaving.
import { version as bullmqVersion } from 'bullmq/dist/cjs/version';
import * as bullmqScripts from 'bullmq/dist/cjs/scripts/index';

interface ScriptLayout {
  /** BullMQ's script name (its export in bullmq/dist/cjs/scripts). */
  name: string;
  /** The Lua function it becomes in our scripts. */
  fn: string;
  /** KEYS[i] and ARGV[i] as the script's header documents them. */
  keys: string[];
  argv: string[];
}

/** The BullMQ scripts we run and the argument layout our Lua helpers (below) give each. */
export const BULLMQ_LAYOUTS: readonly ScriptLayout[] = [
  {
    name: 'moveToActive',
    fn: 'bull_moveToActive',
    keys: ['wait key', 'active key', 'prioritized key', 'stream events key', 'stalled key', 'rate limiter key', 'delayed key', 'paused key', 'meta key', 'pc priority counter', 'marker key'],
    argv: ['key prefix', 'timestamp', 'opts'],
  },
  {
    name: 'moveToFinished',
    fn: 'bull_moveToFinished',
    keys: ['wait key', 'active key', 'prioritized key', 'event stream key', 'stalled key', 'rate limiter key', 'delayed key', 'paused key', 'meta key', 'pc priority counter', 'completed/failed key', 'jobId key', 'metrics key', 'marker key'],
    argv: ['jobId', 'timestamp', 'msg property returnvalue / failedReason', 'return value / failed reason', 'target (completed/failed)', 'fetch next?', 'keys prefix', 'opts', 'job fields to update'],
  },
  {
    name: 'moveToDelayed',
    fn: 'bull_moveToDelayed',
    keys: ['marker key', 'active key', 'prioritized key', 'delayed key', 'job key', 'events stream', 'meta key', 'stalled key', 'wait key', 'rate limiter key', 'pc priority counter'],
    argv: ['key prefix', 'timestamp', 'the id of the job', 'queue token', 'delay value', 'skip attempt', 'optional job fields to update', 'fetch next?', 'opts'],
  },
  {
    name: 'removeJob',
    fn: 'bull_removeJob',
    keys: ['jobKey', 'repeat key'],
    argv: ['jobId', 'remove children', 'queue prefix'],
  },
  {
    name: 'reprocessJob',
    fn: 'bull_reprocessJob',
    keys: ['job key', 'events stream', 'job state', 'wait key', 'meta', 'active key', 'marker key', 'prioritized key', 'priority counter key'],
    argv: ['job.id', "(job.opts.lifo ? 'R' : 'L') + 'PUSH'", 'propVal - failedReason/returnvalue', 'prev state - failed/completed', 'reset attemptsMade - "1" or "0"', 'reset attemptsStarted - "1" or "0"'],
  },
  {
    name: 'promote',
    fn: 'bull_promote',
    keys: ["'delayed'", "'wait'", "'paused'", "'meta'", "'prioritized'", "'active'", "'pc' priority counter", "'event stream'", "'marker'"],
    argv: ["queue.toKey('')", 'jobId'],
  },
];

export type BullmqScript = { name: string; content: string; keys: number };
export type BullmqScripts = { [name: string]: BullmqScript | undefined };

const installed = bullmqScripts as unknown as BullmqScripts;

function scriptOf(name: string): BullmqScript | undefined {
  return installed[name];
}

/** The `KEYS[i] …` and `ARGV[i] …` lines of a BullMQ script's header comment, in order. */
export function documentedLayout(content: string): { keys: string[]; argv: string[] } {
  const header = content.slice(0, Math.max(0, content.indexOf(']]')));
  const lines = (kind: 'KEYS' | 'ARGV'): string[] =>
    [...header.matchAll(new RegExp(`^\\s*${kind}\\[(\\d+)\\]\\s*(.*)$`, 'gm'))].map((match) => match[2].trim());
  return { keys: lines('KEYS'), argv: lines('ARGV') };
}

/**
 * Why the installed BullMQ cannot be used by this board (a script we run is missing or takes
 * other arguments than we give it), or undefined when every layout matches.
 */
export function bullmqLayoutProblem(scripts: BullmqScripts = installed, version: string = bullmqVersion): string | undefined {
  for (const layout of BULLMQ_LAYOUTS) {
    const script = scripts[layout.name];
    const found = script ? documentedLayout(script.content) : undefined;
    if (!found || JSON.stringify(found) !== JSON.stringify({ keys: layout.keys, argv: layout.argv })) {
      const change = script ? `changed the arguments of its script ${layout.name}` : `has no script ${layout.name}`;
      return `The installed BullMQ ${version} ${change}, which the Redis board runs inside its own; install the BullMQ version Agent Swarm was built with (6.7) or update Agent Swarm.`;
    }
  }
  return undefined;
}

/** Each BullMQ script as a local Lua function of (KEYS, ARGV), defined once at the top of ours. */
function wrapped(names: readonly string[]): string {
  return BULLMQ_LAYOUTS.filter((layout) => names.includes(layout.name))
    .map((layout) => `local function ${layout.fn}(KEYS, ARGV)\n${scriptOf(layout.name)?.content ?? 'error("missing BullMQ script")'}\nend\n`)
    .join('');
}

/**
 * Our Lua helpers around BullMQ's scripts, for the queue `<base>:q`. They expect `queue` (the
 * queue's key prefix, `<base>:q:`) and `rcall` to be defined. A job id is the task id.
 */
const HELPERS = `
local function bullKey(name) return queue .. name end
local function lockOf(id) return rcall('GET', queue .. id .. ':lock') or '0' end

-- Moves the next claimable job to active with the lock "token" for lockMs. Returns its id or nil.
local function bullActivate(token, lockMs, now)
  local reply = bull_moveToActive(
    { bullKey('wait'), bullKey('active'), bullKey('prioritized'), bullKey('events'), bullKey('stalled'), bullKey('limiter'),
      bullKey('delayed'), bullKey('paused'), bullKey('meta'), bullKey('pc'), bullKey('marker') },
    { queue, now, cmsgpack.pack({ token = token, lockDuration = lockMs }) })
  if type(reply[1]) == 'table' then return reply[2] end
  return nil
end

-- An active job ends: 'completed' or 'failed', removed from BullMQ or kept (a dead task stays in
-- the failed set, where a requeue takes it from). token is its lock ('0' when the lock lapsed).
local function bullFinish(id, token, target, remove, now)
  return bull_moveToFinished(
    { bullKey('wait'), bullKey('active'), bullKey('prioritized'), bullKey('events'), bullKey('stalled'), bullKey('limiter'),
      bullKey('delayed'), bullKey('paused'), bullKey('meta'), bullKey('pc'), bullKey(target), bullKey(id),
      bullKey('metrics:' .. target), bullKey('marker') },
    { id, now, target == 'completed' and 'returnvalue' or 'failedReason', target == 'completed' and 'null' or target, target, '0', queue,
      cmsgpack.pack({ token = token, keepJobs = { count = remove and 0 or -1 }, attempts = 1, maxMetricsSize = '' }), '' })
end

-- An active job goes back to wait until dueAt (epoch ms), without counting a BullMQ attempt.
local function bullDelay(id, token, dueAt, now)
  return bull_moveToDelayed(
    { bullKey('marker'), bullKey('active'), bullKey('prioritized'), bullKey('delayed'), bullKey(id), bullKey('events'),
      bullKey('meta'), bullKey('stalled'), bullKey('wait'), bullKey('limiter'), bullKey('pc') },
    { queue, now, id, token, math.max(0, dueAt - now), '1', '', '0', '' })
end

-- A job that is not active (waiting, prioritized, delayed, failed) leaves BullMQ.
local function bullRemove(id)
  return bull_removeJob({ bullKey(id), bullKey('repeat') }, { id, '0', queue })
end

-- A delayed job (waiting for files) may be claimed now. -3 when it is not delayed.
local function bullPromote(id)
  return bull_promote(
    { bullKey('delayed'), bullKey('wait'), bullKey('paused'), bullKey('meta'), bullKey('prioritized'), bullKey('active'),
      bullKey('pc'), bullKey('events'), bullKey('marker') },
    { queue, id })
end

-- A failed job (a dead task) is claimable again. 1 when it was moved.
local function bullRetry(id)
  return bull_reprocessJob(
    { bullKey(id), bullKey('events'), bullKey('failed'), bullKey('wait'), bullKey('meta'), bullKey('active'), bullKey('marker'),
      bullKey('prioritized'), bullKey('pc') },
    { id, 'LPUSH', 'failedReason', 'failed', '1', '1' })
end

-- Where an active job goes when its task's record says it ended (or has no record).
local function bullEndAs(id, state, now)
  if state == 'done' then return bullFinish(id, lockOf(id), 'completed', true, now) end
  if state == 'dead' then return bullFinish(id, lockOf(id), 'failed', false, now) end
  return bullFinish(id, lockOf(id), 'failed', true, now)
end
`;

/** The Lua source our scripts need to run BullMQ's: every wrapped script and our helpers. */
export function bullmqLua(): string {
  return wrapped(BULLMQ_LAYOUTS.map((layout) => layout.name)) + HELPERS;
}
