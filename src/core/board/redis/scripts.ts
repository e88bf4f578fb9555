// The Lua scripts of the Redis board. BullMQ keeps the queue (claim order, priorities, delays, the
// lock that is the lease); these scripts keep what it lacks: the task record `t:<id>` (the state of
// record), status indexes for paging, the error history, file-scope leases, map-task accounting,
// cancel, and our own event stream.
//
// Each change that touches both is one script that changes our record and runs BullMQ's own script
// for the job (bullmq.ts), so it is atomic: a claim, a completion, a failure, a release, a cancel, a
// requeue and a sweep's reclaim either happened entirely or not at all. Holder operations are
// fenced by BullMQ's lock (`<queue>:<id>:lock` must hold the claim's token). Only a post is two
// steps (our record, then BullMQ's addBulk); a post whose second step never ran is handed to BullMQ
// by a sweep (the `posting` index).
//
// Every key shares the board's hash tag ({swarm:<name>}), so the board works on Redis Cluster.
// KEYS[1] is always the board's meta key (it routes the call); the rest are derived from ARGV[1],
// the board's key base, the way BullMQ's own scripts derive job keys.
import { bullmqLua } from './bullmq';

// Flagged scripts (Redis 7) are refused as a whole when the server is out of memory, instead of
// failing at their first write with the earlier writes kept: every change stays all or nothing.
const WRITES = '#!lua\n';
const READS = '#!lua flags=no-writes\n';

const BASE = `
local rcall = redis.call
local base = ARGV[1]
local queue = base .. ':q:'
`;

const COMMON = `
local function tkey(id) return base .. ':t:' .. id end
local function lockKey(id) return queue .. id .. ':lock' end

-- Events go to the board's stream; the sweep trims it to the board's retention (once a second,
-- not at every event: an XADD with MAXLEN and the lookup of the retention cost a cycle more).
-- Text a person wrote (a title, a message, file names) arrives as JSON made by the client and is
-- spliced in as it is (detailJson): cjson refuses some strings JavaScript writes (a lone UTF-16
-- surrogate, escaped), and re-encoding would change others.
local function emit(now, pid, kind, taskId, agent, attempt, detail, detailJson)
  local event = { at = tonumber(now), type = kind, pid = tonumber(pid) }
  if taskId then event.taskId = taskId end
  if agent and agent ~= '' then event.agent = agent end
  if attempt then event.attempt = tonumber(attempt) end
  if detail then event.detail = detail end
  local text = cjson.encode(event)
  if detailJson then text = string.sub(text, 1, -2) .. ',"detail":' .. detailJson .. '}' end
  rcall('XADD', base .. ':ev', '*', 'e', text)
end

local function setStatus(id, ix, from, to)
  if from then rcall('ZREM', base .. ':s:' .. from, ix) end
  rcall('ZADD', base .. ':s:' .. to, 0, ix)
end

-- Pending tasks not claimable before a time (a retry's backoff, a later notBefore), for stats.
local function setDue(id, dueAt) rcall('ZADD', base .. ':due', dueAt, id) end
local function clearDue(id) rcall('ZREM', base .. ':due', id) end

-- File-scope leases: f:<sha1(path)> holds "<taskId>~<token>" of the holder. As on the file board,
-- a lease is held as long as its holder's claim: until the claim ends or a sweep reclaims it, not
-- only while its lock lives (a holder whose lock lapsed may still heartbeat and end its claim, so
-- its files must stay its own until then). The key has no expiry: the holder's record says whether
-- it is live, and only the holder's own end or reclaim deletes it. The client hashes the paths when
-- it posts ('fk': the hashes, space-separated); records written before that have only 'files'
-- (JSON), hashed here.
local function fileKeys(fk, filesJson)
  local keys = {}
  if fk then
    for hash in string.gmatch(fk, '%x+') do keys[#keys + 1] = base .. ':f:' .. hash end
  elseif filesJson and filesJson ~= '[]' then
    for _, file in ipairs(cjson.decode(filesJson)) do keys[#keys + 1] = base .. ':f:' .. redis.sha1hex(file) end
  end
  return keys
end

-- The task <id> whose file lease names "<id>~<token>" (a file lease's value), when that claim is
-- still its task's live claim (running with that token, lock lapsed or not); nil when it ended or
-- was reclaimed, so that the lease is a leftover anyone may take.
local function liveFileHolder(holder)
  local sep = string.find(holder, '~', 1, true)
  if not sep then return nil end
  local holderId, holderToken = string.sub(holder, 1, sep - 1), string.sub(holder, sep + 1)
  local f = rcall('HMGET', tkey(holderId), 'st', 'tok')
  if f[1] == 'running' and f[2] == holderToken then return holderId end
  return nil
end

-- The holder ended: the file leases that name it are free, and the tasks that waited for them
-- (flagged 'wt' on its record when the first one began to wait) are claimable. Only leases that
-- still name this claim are deleted: whatever else a key holds is another claim's.
local function releaseFiles(id, token, fk, filesJson, waited)
  local mine = id .. '~' .. token
  for _, key in ipairs(fileKeys(fk, filesJson)) do
    if rcall('GET', key) == mine then rcall('DEL', key) end
  end
  if waited then
    local waiters = rcall('SMEMBERS', base .. ':w:' .. id)
    rcall('DEL', base .. ':w:' .. id)
    rcall('HDEL', tkey(id), 'wt')
    for _, waiter in ipairs(waiters) do bullPromote(waiter) end
  end
end

-- A map task whose children all ended ends too: dead when a child died, cancelled when every
-- child was cancelled, else done (the same rules as the file board).
local function endParent(now, pid, parent)
  local p = tkey(parent)
  local f = rcall('HMGET', p, 'st', 'total', 'n_done', 'n_dead', 'n_cancelled', 'ix')
  if f[1] ~= 'waiting' then return end
  local total, done, dead, cancelled = tonumber(f[2] or '0'), tonumber(f[3] or '0'), tonumber(f[4] or '0'), tonumber(f[5] or '0')
  if total == 0 or done + dead + cancelled < total then return end
  local outcome = 'done'
  if dead > 0 then outcome = 'dead' elseif done == 0 then outcome = 'cancelled' end
  if outcome == 'done' then
    rcall('HSET', p, 'st', 'done', 'res', cjson.encode({ done = done, dead = dead, cancelled = cancelled, total = total }), 'up', now)
  elseif outcome == 'dead' then
    local message = dead .. ' of ' .. total .. ' children died (done ' .. done .. ', cancelled ' .. cancelled .. '); requeue this map task to retry them.'
    local errJson = cjson.encode({ attempt = 0, at = tonumber(now), message = message, permanent = true, kind = 'failed' })
    rcall('RPUSH', base .. ':err:' .. parent, errJson)
    rcall('HSET', p, 'st', 'dead', 'lerr', errJson, 'up', now)
  else
    rcall('HSET', p, 'st', 'cancelled', 'up', now)
  end
  setStatus(parent, f[6], 'waiting', outcome)
  emit(now, pid, 'parent-completed', parent, nil, nil, { outcome = outcome, done = done, dead = dead, cancelled = cancelled, total = total })
end

-- A child of a map task ended: count it once; the last one ends the map.
local function childEnded(now, pid, parent, id, outcome)
  if not parent or parent == '' then return end
  rcall('SREM', base .. ':kr:' .. parent, id)
  if rcall('HSETNX', base .. ':k:' .. parent, id, outcome) == 0 then return end
  rcall('HINCRBY', tkey(parent), 'n_' .. outcome, 1)
  endParent(now, pid, parent)
end

-- An ended (done or dead) map task waits again, for a child that was requeued.
local function reopenParent(now, pid, parent)
  local p = tkey(parent)
  local f = rcall('HMGET', p, 'st', 'ix')
  if f[1] ~= 'done' and f[1] ~= 'dead' then return end
  rcall('HSET', p, 'st', 'waiting', 'up', now)
  rcall('HDEL', p, 'res')
  setStatus(parent, f[2], f[1], 'waiting')
  emit(now, pid, 'reopened', parent, nil, nil, { from = f[1] })
end

-- Why a holder no longer holds: cancelled, reclaimed (its lease expired: the sweep marked its
-- token x:<token>), ended or missing.
local function lostCause(id, token)
  local f = rcall('HMGET', tkey(id), 'st', 'x:' .. token)
  if not f[1] then return 'missing' end
  if f[1] == 'cancelled' then return 'cancelled' end
  if f[2] then return 'reclaimed' end
  if f[1] == 'running' or f[1] == 'pending' then return 'reclaimed' end
  return 'ended'
end

-- Parking (routing): a task that a claimer cannot serve (its labels or repository, the route key
-- 'rk' written at post) is set aside in BullMQ (delayed by PARK_MS, a time that never comes) and
-- listed in pk:<route key>, ordered by priority; pks lists the route keys that have parked tasks.
-- A claimer that can serve a route key puts its tasks back into the queue before it claims. The
-- record's 'pk' names the route key while the task is parked; 'pkn' says its waiting-for-runner
-- event was written (once per task until it is claimed).
local function unparkRecord(id)
  local rk = rcall('HGET', tkey(id), 'pk')
  if not rk then return end
  rcall('ZREM', base .. ':pk:' .. rk, id)
  rcall('HDEL', tkey(id), 'pk')
end

-- Cancels one task that has not ended (pending or running) with its job. False when it had ended.
local function cancelTask(now, pid, id)
  local key = tkey(id)
  local f = rcall('HMGET', key, 'st', 'tok', 'ag', 'files', 'ix', 'par', 'wt', 'fk')
  local st = f[1]
  if st ~= 'pending' and st ~= 'running' then return false end
  rcall('HSET', key, 'st', 'cancelled', 'up', now)
  rcall('HDEL', key, 'due', 'lexp', 'cfl')
  clearDue(id)
  unparkRecord(id)
  setStatus(id, f[5], st, 'cancelled')
  if rcall('LPOS', queue .. 'active', id) then bullFinish(id, lockOf(id), 'failed', true, now) else bullRemove(id) end
  if st == 'running' then releaseFiles(id, f[2], f[8], f[4], f[7]) end
  emit(now, pid, 'cancelled', id, st == 'running' and f[3] or nil, nil, { from = st })
  childEnded(now, pid, f[6], id, 'cancelled')
  return true
end

-- A dead task is pending again with a fresh budget; its map (done or dead) waits for it again.
local function requeueTask(now, pid, id)
  local key = tkey(id)
  local f = rcall('HMGET', key, 'ix', 'par')
  if bullRetry(id) ~= 1 and rcall('EXISTS', queue .. id) == 0 then
    rcall('ZADD', base .. ':posting', 0, id) -- no job to move back: the next sweep hands the task to BullMQ
  end
  rcall('HSET', key, 'st', 'pending', 'att', 0, 'up', now)
  rcall('HDEL', key, 'due', 'cfl')
  setStatus(id, f[1], 'dead', 'pending')
  if f[2] then
    if rcall('HDEL', base .. ':k:' .. f[2], id) == 1 then rcall('HINCRBY', tkey(f[2]), 'n_dead', -1) end
    reopenParent(now, pid, f[2])
  end
  emit(now, pid, 'requeued', id, nil, nil, nil)
end
`;

/** Parked tasks are delayed this long in BullMQ: never due; only a claimer that serves them brings them back. */
const PARK_MS = 100 * 365 * 24 * 3_600_000;
/** Most parked tasks one claim puts back into the queue (the rest follow at the next claims). */
const UNPARK_BATCH = 500;

function writer(body: string): string {
  return `${WRITES}${BASE}${bullmqLua()}${COMMON}${body}`;
}

/**
 * Records new tasks (and map parents). ARGV: base, now, pid, tasks JSON. Returns 'ok' or an error
 * line. The tasks are handed to BullMQ afterwards (addBulk); until then they are in `posting`.
 */
export const POST = writer(`
local now, pid = ARGV[2], ARGV[3]
local tasks = cjson.decode(ARGV[4])
-- Validate before writing anything: all or nothing.
for _, task in ipairs(tasks) do
  if rcall('EXISTS', tkey(task.id)) == 1 then return 'EXISTS ' .. task.id end
  if task.parentId and not task.isMapChild then
    local st = rcall('HGET', tkey(task.parentId), 'st')
    if not st then return 'NOPARENT ' .. task.parentId end
    if st ~= 'waiting' then return 'PARENTSTATE ' .. task.parentId .. ' ' .. st end
  end
end
for _, task in ipairs(tasks) do
  local key = tkey(task.id)
  local status = task.isParent and 'waiting' or 'pending'
  rcall('HSET', key, 'spec', task.spec, 'st', status, 'att', 0, 'ix', task.ix, 'cr', task.createdAt, 'up', now,
    'files', task.files, 'max', task.maxAttempts)
  if task.fk ~= '' then rcall('HSET', key, 'fk', task.fk) end
  if task.rk then rcall('HSET', key, 'rk', task.rk) end
  if task.parentId then
    rcall('HSET', key, 'par', task.parentId)
    rcall('SADD', base .. ':kc:' .. task.parentId, task.id)
    if not task.isMapChild then rcall('HINCRBY', tkey(task.parentId), 'total', 1) end
  end
  if task.isParent then rcall('HSET', key, 'total', task.childCount, 'n_done', 0, 'n_dead', 0, 'n_cancelled', 0)
  else rcall('ZADD', base .. ':posting', now, task.id) end
  if task.due then setDue(task.id, task.due) end
  rcall('ZADD', base .. ':all', 0, task.ix)
  setStatus(task.id, task.ix, nil, status)
  emit(now, pid, 'posted', task.id, nil, nil, nil, task.posted)
end
return 'ok'
`);

/**
 * Claims the next task: BullMQ moves the next job to active with the lock `token` for leaseMs
 * (its claim order: priority, then age; due delayed jobs first), and the record takes the claim
 * and the file leases. A task whose files another live claim holds is put back to wait (it is
 * woken when that holder ends) and the next job is tried; a job whose record says it ended is
 * finished in BullMQ. A task this claimer cannot serve (ARGV 'serves': its labels, repositories)
 * is parked, not claimed; parked tasks it can serve go back into the queue first (see unparkRecord).
 * ARGV: base, now, pid, token, agent, leaseMs, conflict delay ms, random, serves JSON ('' = all).
 * Returns {'ok', id, attempt, spec, last error JSON or ''} | {'none'} | {'more'} (tried 20 jobs:
 * call again).
 */
export const CLAIM = writer(`
local now, pid, token, agent, leaseMs = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local conflictDelay, random = tonumber(ARGV[7]), tonumber(ARGV[8])
-- What this claimer serves ('' = everything): {labels = {...}, repos = {...} | 'any', unsourced = bool}.
local serves = ARGV[9] ~= '' and cjson.decode(ARGV[9]) or nil
local hasLabel, hasRepo = {}, {}
if serves then
  for _, label in ipairs(serves.labels) do hasLabel[label] = true end
  if serves.repos ~= 'any' then for _, repo in ipairs(serves.repos) do hasRepo[repo] = true end end
end
-- Route key '<labels,comma-separated>|<repository or empty>'; records posted before routing have none.
local function canServe(rk)
  if not serves or not rk then return true end
  local sep = string.find(rk, '|', 1, true)
  if not sep then return true end
  for label in string.gmatch(string.sub(rk, 1, sep - 1), '[^,]+') do
    if not hasLabel[label] then return false end
  end
  local repo = string.sub(rk, sep + 1)
  if repo == '' then return serves.unsourced == true end
  return serves.repos == 'any' or hasRepo[repo] == true
end
-- The detail of a waiting-for-runner event: {"labels":[...],"repository":...} (labels are plain: LABEL_PATTERN).
local function needsJson(rk)
  local sep = string.find(rk, '|', 1, true)
  local labels = {}
  for label in string.gmatch(string.sub(rk, 1, sep - 1), '[^,]+') do labels[#labels + 1] = '"' .. label .. '"' end
  local repo = string.sub(rk, sep + 1)
  return '{"labels":[' .. table.concat(labels, ',') .. ']' .. (repo ~= '' and (',"repository":' .. cjson.encode(repo)) or '') .. '}'
end
-- Tasks parked for route keys this claimer serves go back into the queue (at most ${UNPARK_BATCH} per
-- call, highest priority first; the rest at the next call), so BullMQ's order decides among them.
local unparked = 0
for _, rk in ipairs(rcall('SMEMBERS', base .. ':pks')) do
  if unparked >= ${UNPARK_BATCH} then break end
  if canServe(rk) then
    local parkKey = base .. ':pk:' .. rk
    for _, id in ipairs(rcall('ZRANGE', parkKey, 0, ${UNPARK_BATCH} - unparked - 1)) do
      rcall('ZREM', parkKey, id)
      rcall('HDEL', tkey(id), 'pk')
      bullPromote(id)
      unparked = unparked + 1
    end
    if rcall('EXISTS', parkKey) == 0 then rcall('SREM', base .. ':pks', rk) end
  end
end
for _ = 1, 20 do
  local id = bullActivate(token, leaseMs, now)
  if not id then return { 'none' } end
  local key = tkey(id)
  local f = rcall('HMGET', key, 'st', 'files', 'ix', 'par', 'cfl', 'due', 'att', 'spec', 'lerr', 'fk', 'rk', 'pk', 'pkn')
  local st = f[1]
  if st == 'pending' and not canServe(f[11]) then
    -- Not for this claimer: parked, not claimed (no lease, no attempt, no claim event). A record
    -- that says running with a job to activate is repaired by the claim as before, never parked:
    -- a parked job is out of the sweep's sight, and the record would stay running for ever.
    if f[6] then
      rcall('HDEL', key, 'due')
      clearDue(id)
    end
    local parkKey = base .. ':pk:' .. f[11]
    -- BullMQ's priority field: lower runs first, as the park set's order.
    rcall('ZADD', parkKey, tonumber(rcall('HGET', queue .. id, 'priority') or '0') or 0, id)
    rcall('SADD', base .. ':pks', f[11])
    rcall('HSET', key, 'pk', f[11])
    if not f[13] then
      rcall('HSET', key, 'pkn', 1)
      emit(now, pid, 'waiting-for-runner', id, nil, nil, nil, needsJson(f[11]))
    end
    bullDelay(id, token, now + ${PARK_MS}, now)
  elseif st == 'pending' or st == 'running' then
    local mine = id .. '~' .. token
    local keys = fileKeys(f[10], f[2])
    local taken, holderId = 0, nil
    for _, fileKey in ipairs(keys) do
      -- Free (the usual case): one SET. Held by another task's live claim, its lock lapsed or not:
      -- wait for it. A leftover of a claim that ended, was reclaimed, or is this task's own earlier
      -- one: take it.
      if not rcall('SET', fileKey, mine, 'NX') then
        local other = liveFileHolder(rcall('GET', fileKey) or '')
        if other and other ~= id then
          holderId = other
          break
        end
        rcall('SET', fileKey, mine)
      end
      taken = taken + 1
    end
    if holderId then
      for index = 1, taken do rcall('DEL', keys[index]) end
      rcall('SADD', base .. ':w:' .. holderId, id)
      rcall('HSET', tkey(holderId), 'wt', 1)
      if not f[5] then
        rcall('HSET', key, 'cfl', holderId)
        emit(now, pid, 'conflict', id, nil, nil, nil, '{"waitingFor":' .. cjson.encode(holderId) .. ',"files":' .. f[2] .. '}')
      end
      bullDelay(id, token, now + math.floor(conflictDelay * (0.5 + random)), now)
    else
      local attempt = tonumber(f[7] or '0') + 1
      rcall('HSET', key, 'st', 'running', 'tok', token, 'ag', agent, 'lexp', now + leaseMs, 'up', now, 'att', attempt)
      if f[12] then unparkRecord(id) end
      if f[13] then rcall('HDEL', key, 'pkn') end
      if f[5] or f[6] then
        rcall('HDEL', key, 'cfl', 'due')
        clearDue(id)
      end
      if st ~= 'running' then setStatus(id, f[3], st, 'running') end
      if f[4] then rcall('SADD', base .. ':kr:' .. f[4], id) end
      emit(now, pid, 'claimed', id, agent, attempt, nil)
      return { 'ok', id, attempt, f[8], f[9] or '' }
    end
  else
    bullEndAs(id, st or 'orphan', now)
  end
end
return { 'more' }
`);

/**
 * Renews a lease. A lease that ran out but was not taken back by a sweep yet is renewed too (as on
 * the file board, where a heartbeat touches the running file until it is reclaimed). The holder's
 * file leases need no renewal (they last as long as the claim); one found missing is put back,
 * one that names another claim is left to it. ARGV: base, id, token, leaseMs, now.
 * Returns {'ok'} | {'lost', cause}.
 */
export const HEARTBEAT = writer(`
local id, token, leaseMs, now = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local f = rcall('HMGET', tkey(id), 'st', 'tok')
local lock = rcall('GET', lockKey(id))
if f[1] ~= 'running' or f[2] ~= token or (lock and lock ~= token) then return { 'lost', lostCause(id, token) } end
rcall('SET', lockKey(id), token, 'PX', leaseMs)
rcall('SREM', queue .. 'stalled', id)
local key = tkey(id)
local mine = id .. '~' .. token
local files = rcall('HMGET', key, 'fk', 'files')
for _, fileKey in ipairs(fileKeys(files[1], files[2])) do
  -- PERSIST: a lease written by an earlier version expires with a timer; from now on it lasts as the claim.
  if rcall('GET', fileKey) == mine then rcall('PERSIST', fileKey) else rcall('SET', fileKey, mine, 'NX') end
end
rcall('HSET', key, 'lexp', tonumber(now) + leaseMs)
return { 'ok' }
`);

/**
 * Ends a claim: complete, fail or release, with BullMQ's move of the job in the same step.
 * ARGV: base, id, token, kind, now, pid, result JSON ('' for none; passed through untouched so
 * numbers and empty arrays survive), message (a JSON string), permanent ('1'/'0'), retryAt,
 * baseMs, capMs, multiplier, jitter, random, release reason (a JSON string), latest time, the
 * `completed` event's detail (JSON, '' for none: the batch the result names).
 * Returns {'ok', state, attempt, dueAt} | {'lost', cause} | {'again'} (a repeat of our own
 * completion whose reply was lost).
 */
export const FINISH = writer(`
local id, token, kind, now, pid = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local key = tkey(id)
local f = rcall('HMGET', key, 'st', 'tok', 'att', 'ag', 'files', 'ix', 'par', 'max', 'wt', 'fk')
if f[1] ~= 'running' or f[2] ~= token then
  if kind == 'complete' and f[1] == 'done' and f[2] == token then return { 'again' } end
  return { 'lost', lostCause(id, token) }
end
local attempt, agent, ix, parent = tonumber(f[3]), f[4], f[6], f[7]
local state, dueAt = 'pending', now
if kind == 'complete' then
  state = 'done'
elseif kind == 'fail' then
  if ARGV[9] == '1' or attempt >= tonumber(f[8]) then
    state = 'dead'
  else
    local baseMs, capMs, multiplier, jitter, random = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
    local delay = math.min(capMs, baseMs * math.pow(multiplier, math.max(0, attempt - 1)))
    delay = math.floor(delay * (1 - jitter * random) + 0.5)
    dueAt = math.min(tonumber(ARGV[17]), math.max(now + delay, tonumber(ARGV[10])))
  end
end
-- BullMQ's move checks the lock before it changes anything. Another lock (-6) cannot be: every
-- change of holder changes our record in the same step. No lock (-2): the lease ran out and no
-- sweep has taken the task back yet; as on the file board, the late holder may still end it
-- (token '0' skips BullMQ's check).
local function move(lock)
  if state == 'done' then return bullFinish(id, lock, 'completed', true, now) end
  if state == 'dead' then return bullFinish(id, lock, 'failed', false, now) end
  return bullDelay(id, lock, dueAt, now)
end
local moved = move(token)
if moved == -6 then return { 'lost', 'reclaimed' } end
if moved == -2 then moved = move('0') end
if moved == -1 and state == 'pending' then rcall('ZADD', base .. ':posting', 0, id) end -- no job: the sweep adds it
releaseFiles(id, token, f[10], f[5], f[9])
if kind == 'complete' then
  if ARGV[7] ~= '' then rcall('HSET', key, 'st', 'done', 'up', now, 'res', ARGV[7]) else rcall('HSET', key, 'st', 'done', 'up', now) end
  setStatus(id, ix, 'running', 'done')
  emit(now, pid, 'completed', id, agent, attempt, nil, ARGV[18] ~= '' and ARGV[18] or nil)
  childEnded(now, pid, parent, id, 'done')
elseif kind == 'fail' then
  local permanent = ARGV[9] == '1' and 'true' or 'false'
  -- ARGV[8] is the message as a JSON string, spliced in as the client wrote it (see emit).
  local errJson = '{"attempt":' .. attempt .. ',"at":' .. string.format('%d', now) .. ',"message":' .. ARGV[8] .. ',"permanent":' .. permanent ..
    ',"agent":' .. cjson.encode(agent) .. ',"kind":"failed"}'
  rcall('RPUSH', base .. ':err:' .. id, errJson)
  emit(now, pid, 'failed', id, agent, attempt, nil, '{"message":' .. ARGV[8] .. ',"permanent":' .. permanent .. '}')
  if state == 'dead' then
    rcall('HSET', key, 'st', 'dead', 'up', now, 'lerr', errJson)
    rcall('HDEL', key, 'ag', 'lexp')
    setStatus(id, ix, 'running', 'dead')
    emit(now, pid, 'dead', id, nil, attempt, nil, '{"message":' .. ARGV[8] .. '}')
    childEnded(now, pid, parent, id, 'dead')
  else
    rcall('HSET', key, 'st', 'pending', 'due', dueAt, 'up', now, 'lerr', errJson)
    rcall('HDEL', key, 'ag', 'lexp')
    setDue(id, dueAt)
    setStatus(id, ix, 'running', 'pending')
    if parent then rcall('SREM', base .. ':kr:' .. parent, id) end
    emit(now, pid, 'retry-scheduled', id, nil, attempt, { dueAt = dueAt })
  end
else
  attempt = math.max(0, attempt - 1)
  rcall('HSET', key, 'st', 'pending', 'att', attempt, 'up', now)
  rcall('HDEL', key, 'due', 'ag', 'lexp')
  setStatus(id, ix, 'running', 'pending')
  if parent then rcall('SREM', base .. ':kr:' .. parent, id) end
  emit(now, pid, 'requeued', id, agent, attempt + 1, nil, '{"released":true,"reason":' .. ARGV[16] .. '}')
end
return { 'ok', state, attempt, dueAt }
`);

/**
 * Finds jobs BullMQ lists as active whose lock lapsed. A task that was running there lost its
 * lease: the expiry is recorded, its file leases are freed, and it goes back to pending (or dead
 * when its attempts are used up), with its job. Any other active job without a lock is moved
 * where its record says. Also finds posts recorded but never handed to BullMQ. At most once per
 * interval across all processes unless forced. Trims the event stream to the board's retention.
 * ARGV: base, now, pid, interval ms, force, post repair age ms.
 * Returns {reclaimed count, {stale post ids}}: the client hands those to BullMQ, then calls HANDED.
 */
export const SWEEP = writer(`
local now, pid, interval, force, repairAge = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
if force ~= '1' then
  if not rcall('SET', base .. ':sweep', now, 'NX', 'PX', interval) then return { 0, {} } end
end
local reclaimed = 0
for _, id in ipairs(rcall('LRANGE', queue .. 'active', 0, -1)) do
  if rcall('EXISTS', lockKey(id)) == 0 then
    local key = tkey(id)
    local f = rcall('HMGET', key, 'st', 'att', 'ag', 'tok', 'files', 'ix', 'par', 'max', 'due', 'wt', 'fk')
    local st = f[1]
    if st == 'running' then
      reclaimed = reclaimed + 1
      local attempt = tonumber(f[2])
      local message = 'The lease of agent ' .. (f[3] or '?') .. ' expired (the agent crashed, hung or lost contact).'
      local errJson = cjson.encode({ attempt = attempt, at = now, message = message, permanent = false, agent = f[3], kind = 'lease-expired' })
      rcall('RPUSH', base .. ':err:' .. id, errJson)
      rcall('HSET', key, 'lerr', errJson, 'x:' .. (f[4] or ''), 1, 'up', now)
      rcall('HDEL', key, 'ag', 'lexp', 'due')
      local toDead = attempt >= tonumber(f[8])
      emit(now, pid, 'reclaimed', id, f[3], attempt, { toDead = toDead })
      releaseFiles(id, f[4] or '', f[11], f[5], f[10])
      if toDead then
        rcall('HSET', key, 'st', 'dead')
        setStatus(id, f[6], 'running', 'dead')
        bullFinish(id, '0', 'failed', false, now)
        emit(now, pid, 'dead', id, nil, attempt, { message = message })
        childEnded(now, pid, f[7], id, 'dead')
      else
        rcall('HSET', key, 'st', 'pending')
        setStatus(id, f[6], 'running', 'pending')
        if f[7] then rcall('SREM', base .. ':kr:' .. f[7], id) end
        bullDelay(id, '0', now, now)
      end
    elseif st == 'pending' then
      bullDelay(id, '0', math.max(now, tonumber(f[9] or '0')), now)
    else
      bullEndAs(id, st or 'orphan', now)
    end
  end
end
rcall('XTRIM', base .. ':ev', 'MAXLEN', '~', rcall('HGET', base .. ':meta', 'retention') or '200000')
-- A stale post stays in posting until its job exists (HANDED, after the client's addBulk): if the
-- hand-over fails or this process dies first, a later sweep tries again. Its time is moved to now,
-- so that the next try waits another repair age instead of racing this one.
local stale = {}
for _, id in ipairs(rcall('ZRANGEBYSCORE', base .. ':posting', '-inf', now - repairAge, 'LIMIT', 0, 100)) do
  if rcall('EXISTS', queue .. id) == 0 and rcall('HGET', tkey(id), 'st') == 'pending' then
    rcall('ZADD', base .. ':posting', now, id)
    stale[#stale + 1] = id
  else
    rcall('ZREM', base .. ':posting', id)
  end
end
return { reclaimed, stale }
`);

/**
 * After the client handed posted tasks to BullMQ (addBulk): each leaves `posting` once its job
 * exists, or once its task is no longer pending (it ran and BullMQ dropped the job, or it was
 * cancelled). A task that is pending with no job stays, for the next sweep. ARGV: base, ids...
 * It only removes, so it may run on a server out of memory (allow-oom), as a plain ZREM would: a
 * hand-over that succeeded is not reported as failed because the server is full.
 */
export const HANDED = `#!lua flags=allow-oom\n${BASE}
for index = 2, #ARGV do
  local id = ARGV[index]
  if rcall('EXISTS', queue .. id) == 1 or rcall('HGET', base .. ':t:' .. id, 'st') ~= 'pending' then rcall('ZREM', base .. ':posting', id) end
end
return 0
`;

/**
 * Cancels a task that has not ended, with its job: a running holder's next heartbeat or
 * completion is refused. A map task is cancelled with every child that has not ended, in the same
 * step. ARGV: base, id, now, pid. Returns {'ok', from} | {'ended', state} | {'missing'}.
 */
export const CANCEL = writer(`
local id, now, pid = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local key = tkey(id)
local f = rcall('HMGET', key, 'st', 'ix')
local st = f[1]
if not st then return { 'missing' } end
if st == 'done' or st == 'dead' or st == 'cancelled' then return { 'ended', st } end
if st == 'waiting' then
  rcall('HSET', key, 'st', 'cancelled', 'up', now)
  setStatus(id, f[2], 'waiting', 'cancelled')
  emit(now, pid, 'cancelled', id, nil, nil, { from = 'waiting' })
  for _, child in ipairs(rcall('SMEMBERS', base .. ':kc:' .. id)) do cancelTask(now, pid, child) end
else
  cancelTask(now, pid, id)
end
return { 'ok', st }
`);

/**
 * Moves a dead task back to pending with a fresh budget, with its job; its ended map waits for it
 * again. A dead map task requeues its dead children. ARGV: base, id, now, pid.
 * Returns {'ok'} | {'map', child ids...} | {'missing'} | {'state', status} | {'noparent', id} |
 * {'parentcancelled', id}.
 */
export const REQUEUE = writer(`
local id, now, pid = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local f = rcall('HMGET', tkey(id), 'st', 'par', 'total')
if not f[1] then return { 'missing' } end
if f[1] ~= 'dead' then return { 'state', f[1] } end
if f[3] then
  local out = { 'map' }
  for _, child in ipairs(rcall('SMEMBERS', base .. ':kc:' .. id)) do
    if rcall('HGET', tkey(child), 'st') == 'dead' then
      requeueTask(now, pid, child)
      out[#out + 1] = child
    end
  end
  if #out == 1 then
    -- No dead child left: open the map and let it end by its children.
    reopenParent(now, pid, id)
    endParent(now, pid, id)
  end
  return out
end
if f[2] then
  local parentState = rcall('HGET', tkey(f[2]), 'st')
  if not parentState then return { 'noparent', f[2] } end
  if parentState == 'cancelled' then return { 'parentcancelled', f[2] } end
end
requeueTask(now, pid, id)
return { 'ok' }
`);

/**
 * One page of task records, oldest first. ARGV: base, index name, after member ('' for none), offset, limit.
 * Returns {total, next member or '', record fields...}.
 */
export const PAGE = `${READS}
local rcall = redis.call
local base = ARGV[1]
local index = base .. ':' .. ARGV[2]
local limit = tonumber(ARGV[5])
local members
if ARGV[3] ~= '' then
  members = rcall('ZRANGE', index, '(' .. ARGV[3], '+', 'BYLEX', 'LIMIT', 0, limit + 1)
else
  local offset = tonumber(ARGV[4])
  members = rcall('ZRANGE', index, offset, offset + limit)
end
local out = { rcall('ZCARD', index), '' }
if #members > limit then
  out[2] = members[limit]
  members[#members] = nil
end
for _, member in ipairs(members) do
  local id = string.sub(member, string.find(member, ':', 1, true) + 1)
  out[#out + 1] = rcall('HGETALL', base .. ':t:' .. id)
end
return out
`;

/**
 * Counts per status, the pending tasks not claimable before a later time, and the progress of
 * every waiting map task. ARGV: base, now.
 */
export const STATS = `${READS}
local rcall = redis.call
local base = ARGV[1]
local out = {}
for _, status in ipairs({ 'pending', 'running', 'done', 'dead', 'cancelled', 'waiting' }) do
  out[#out + 1] = rcall('ZCARD', base .. ':s:' .. status)
end
out[#out + 1] = rcall('ZCOUNT', base .. ':due', '(' .. ARGV[2], '+inf')
-- Parked tasks by route key: how many keys, then each key and its count (at most 1,000 keys).
local parkedKeys = rcall('SRANDMEMBER', base .. ':pks', 1000)
out[#out + 1] = #parkedKeys
for _, rk in ipairs(parkedKeys) do
  out[#out + 1] = rk
  out[#out + 1] = rcall('ZCARD', base .. ':pk:' .. rk)
end
for _, member in ipairs(rcall('ZRANGE', base .. ':s:waiting', 0, 999)) do
  local id = string.sub(member, string.find(member, ':', 1, true) + 1)
  local f = rcall('HMGET', base .. ':t:' .. id, 'total', 'n_done', 'n_dead', 'n_cancelled')
  out[#out + 1] = id
  out[#out + 1] = f[1] or '0'
  out[#out + 1] = f[2] or '0'
  out[#out + 1] = f[3] or '0'
  out[#out + 1] = f[4] or '0'
  out[#out + 1] = rcall('SCARD', base .. ':kr:' .. id)
end
return out
`;

/** Artifact names and sizes of a task. ARGV: base, id. */
export const ARTIFACTS = `${READS}
local key = ARGV[1] .. ':a:' .. ARGV[2]
local out = {}
for _, name in ipairs(redis.call('HKEYS', key)) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('HSTRLEN', key, name)
end
return out
`;

export const SCRIPTS = { POST, CLAIM, HEARTBEAT, FINISH, SWEEP, HANDED, CANCEL, REQUEUE, PAGE, STATS, ARTIFACTS } as const;
