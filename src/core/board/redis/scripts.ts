// The Lua scripts of the Redis board. BullMQ keeps the queue (claim order, priorities, delays, the
// lock that is the lease); these scripts keep what it lacks, each in one atomic step on the server:
// the task record `t:<id>` (the state of record), status indexes for paging, the error history,
// file-scope leases, map-task accounting, cancel, and our own event stream.
//
// Every holder operation commits here first, fenced by BullMQ's lock (`<queue>:<id>:lock` must hold
// the claim's token), and only then asks BullMQ to move the job. If the process dies in between,
// the lock lapses and the next sweep takes the job over and applies the recorded state to BullMQ
// (roll forward), so a committed state is never undone and nothing is done twice.
//
// Every key shares the board's hash tag ({swarm:<name>}), so the board works on Redis Cluster.
// KEYS[1] is always the board's meta key (it routes the call); the rest are derived from ARGV[1],
// the board's key base, the way BullMQ's own scripts derive job keys.

// Flagged scripts (Redis 7) are refused as a whole when the server is out of memory, instead of
// failing at their first write with the earlier writes kept: every change stays all or nothing.
const WRITES = '#!lua\n';
const READS = '#!lua flags=no-writes\n';

const COMMON = `
local rcall = redis.call
local base = ARGV[1]
local queue = base .. ':q:'
local function tkey(id) return base .. ':t:' .. id end
local function lockKey(id) return queue .. id .. ':lock' end

local function emit(now, pid, kind, taskId, agent, attempt, detail)
  local event = { at = tonumber(now), type = kind, pid = tonumber(pid) }
  if taskId then event.taskId = taskId end
  if agent and agent ~= '' then event.agent = agent end
  if attempt then event.attempt = tonumber(attempt) end
  if detail then event.detail = detail end
  local retention = rcall('HGET', base .. ':meta', 'retention') or '200000'
  rcall('XADD', base .. ':ev', 'MAXLEN', '~', retention, '*', 'e', cjson.encode(event))
end

local function setStatus(id, ix, from, to)
  if from then rcall('ZREM', base .. ':s:' .. from, ix) end
  rcall('ZADD', base .. ':s:' .. to, 0, ix)
end

-- File-scope leases: f:<sha1(path)> holds "<taskId>~<token>" of the holder while its lock lives.
local function fileKeys(filesJson)
  local keys = {}
  if filesJson and filesJson ~= '[]' then
    for _, file in ipairs(cjson.decode(filesJson)) do keys[#keys + 1] = base .. ':f:' .. redis.sha1hex(file) end
  end
  return keys
end

local function releaseFiles(id, token, filesJson)
  local mine = id .. '~' .. token
  for _, key in ipairs(fileKeys(filesJson)) do
    if rcall('GET', key) == mine then rcall('DEL', key) end
  end
  local waiters = rcall('SMEMBERS', base .. ':w:' .. id)
  rcall('DEL', base .. ':w:' .. id)
  return waiters
end

-- A child of a map task ended: count it once; the last one ends the parent.
local function childEnded(now, pid, parent, id, outcome)
  if not parent or parent == '' then return end
  rcall('SREM', base .. ':kr:' .. parent, id)
  if rcall('HSETNX', base .. ':k:' .. parent, id, outcome) == 0 then return end
  local p = tkey(parent)
  rcall('HINCRBY', p, 'n_' .. outcome, 1)
  local f = rcall('HMGET', p, 'st', 'total', 'n_done', 'n_dead', 'n_cancelled', 'ix')
  local ended = tonumber(f[3] or '0') + tonumber(f[4] or '0') + tonumber(f[5] or '0')
  if f[1] == 'waiting' and ended >= tonumber(f[2] or '0') then
    local summary = { done = tonumber(f[3] or '0'), dead = tonumber(f[4] or '0'), cancelled = tonumber(f[5] or '0'), total = tonumber(f[2] or '0') }
    rcall('HSET', p, 'st', 'done', 'res', cjson.encode(summary), 'up', now)
    setStatus(parent, f[6], 'waiting', 'done')
    emit(now, pid, 'parent-completed', parent, nil, nil, summary)
  end
end

-- Why a holder no longer holds: cancelled, reclaimed, ended or missing.
local function lostCause(id, token)
  local f = rcall('HMGET', tkey(id), 'st', 'tok', 'rtok')
  if not f[1] then return 'missing' end
  if f[1] == 'cancelled' then return 'cancelled' end
  if f[3] == token then return 'reclaimed' end
  if f[1] == 'running' or f[1] == 'pending' then return 'reclaimed' end
  return 'ended'
end

-- The holder check every holder operation starts with: our record and BullMQ's lock agree.
local function holds(id, token)
  local f = rcall('HMGET', tkey(id), 'st', 'tok')
  return f[1] == 'running' and f[2] == token and rcall('GET', lockKey(id)) == token
end
`;

/** Records new tasks (and map parents). ARGV: base, now, pid, tasks JSON. Returns 'ok' or an error line. */
export const POST = `${WRITES}${COMMON}
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
  if task.parentId then
    rcall('HSET', key, 'par', task.parentId)
    rcall('SADD', base .. ':kc:' .. task.parentId, task.id)
    if not task.isMapChild then rcall('HINCRBY', tkey(task.parentId), 'total', 1) end
  end
  if task.isParent then rcall('HSET', key, 'total', task.childCount, 'n_done', 0, 'n_dead', 0, 'n_cancelled', 0)
  else rcall('ZADD', base .. ':posting', now, task.id) end
  rcall('ZADD', base .. ':all', 0, task.ix)
  setStatus(task.id, task.ix, nil, status)
  local detail = { title = task.title }
  if task.isParent then detail.children = task.childCount end
  if task.parentId then detail.parentId = task.parentId end
  emit(now, pid, 'posted', task.id, nil, nil, detail)
end
return 'ok'
`;

/**
 * After BullMQ handed job ARGV[2] to this process with lock token ARGV[3]: takes the file leases
 * and records the claim. ARGV: base, id, token, agent, leaseMs, now, pid. An empty id means "the
 * job this token just took": the call is pipelined right behind BullMQ's claim on the same
 * connection, and the job is found near the head of the active list by its lock.
 * Returns {'ok', attempt, record} | {'conflict', holderId} | {'lost'} | {'finish', state} |
 * {'orphan'} | {'notfound'}.
 */
export const CLAIMED = `${WRITES}${COMMON}
local id, token, agent, leaseMs, now, pid = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
if id == '' then
  for _, candidate in ipairs(rcall('LRANGE', queue .. 'active', 0, 99)) do
    if rcall('GET', lockKey(candidate)) == token then
      id = candidate
      break
    end
  end
  if id == '' then return { 'notfound' } end
end
if rcall('GET', lockKey(id)) ~= token then return { 'lost' } end
local key = tkey(id)
local f = rcall('HMGET', key, 'st', 'files', 'ix', 'par', 'cfl')
local st = f[1]
if not st then return { 'orphan' } end
if st == 'done' or st == 'cancelled' then return { 'finish', st } end
if st == 'dead' then
  -- BullMQ moved the job back but the requeue that did it did not record it: finish that requeue.
  rcall('HSET', key, 'att', 0)
  setStatus(id, f[3], 'dead', 'pending')
  if f[4] then
    if rcall('HDEL', base .. ':k:' .. f[4], id) == 1 then rcall('HINCRBY', tkey(f[4]), 'n_dead', -1) end
  end
  emit(now, pid, 'requeued', id, nil, nil, nil)
  st = 'pending'
end
local mine = id .. '~' .. token
local keys = fileKeys(f[2])
for _, fileKey in ipairs(keys) do
  local holder = rcall('GET', fileKey)
  if holder and holder ~= mine then
    local sep = string.find(holder, '~', 1, true)
    local holderId, holderToken = string.sub(holder, 1, sep - 1), string.sub(holder, sep + 1)
    if holderId ~= id and rcall('GET', lockKey(holderId)) == holderToken then
      rcall('SADD', base .. ':w:' .. holderId, id)
      if not f[5] then
        rcall('HSET', key, 'cfl', holderId)
        emit(now, pid, 'conflict', id, nil, nil, { waitingFor = holderId, files = cjson.decode(f[2]) })
      end
      return { 'conflict', holderId }
    end
  end
end
for _, fileKey in ipairs(keys) do rcall('SET', fileKey, mine, 'PX', leaseMs * 2) end
rcall('PEXPIRE', lockKey(id), leaseMs)
local attempt = rcall('HINCRBY', key, 'att', 1)
rcall('HSET', key, 'st', 'running', 'tok', token, 'ag', agent, 'lexp', tonumber(now) + leaseMs, 'up', now)
rcall('HDEL', key, 'cfl', 'due')
if st ~= 'running' then setStatus(id, f[3], st, 'running') end
if f[4] then rcall('SADD', base .. ':kr:' .. f[4], id) end
emit(now, pid, 'claimed', id, agent, attempt, nil)
return { 'ok', attempt, rcall('HGETALL', key) }
`;

/** Renews a lease and the file leases. ARGV: base, id, token, leaseMs, now. Returns {'ok'} | {'lost', cause}. */
export const HEARTBEAT = `${WRITES}${COMMON}
local id, token, leaseMs, now = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
if not holds(id, token) then return { 'lost', lostCause(id, token) } end
rcall('PEXPIRE', lockKey(id), leaseMs)
rcall('SREM', queue .. 'stalled', id)
local key = tkey(id)
local mine = id .. '~' .. token
for _, fileKey in ipairs(fileKeys(rcall('HGET', key, 'files'))) do
  if rcall('GET', fileKey) == mine then rcall('PEXPIRE', fileKey, leaseMs * 2) else rcall('SET', fileKey, mine, 'PX', leaseMs * 2) end
end
rcall('HSET', key, 'lexp', tonumber(now) + leaseMs)
return { 'ok' }
`;

/**
 * Ends a claim: complete, fail or release. ARGV: base, id, token, kind, now, pid, payload JSON,
 * result JSON ('' for none; passed through untouched so numbers and empty arrays survive).
 * payload: complete {}; fail {message, permanent, retryAt, baseMs, capMs, multiplier,
 * jitter, random}; release {reason}.
 * Returns {'ok', state, attempt, dueAt, waiters...} | {'lost', cause} | {'again'} (a repeat of our own
 * completion whose reply was lost).
 */
export const FINISH = `${WRITES}${COMMON}
local id, token, kind, now, pid = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local payload = cjson.decode(ARGV[7])
local key = tkey(id)
if not holds(id, token) then
  local f = rcall('HMGET', key, 'st', 'tok')
  if kind == 'complete' and f[1] == 'done' and f[2] == token then return { 'again', 'done' } end
  return { 'lost', lostCause(id, token) }
end
local f = rcall('HMGET', key, 'att', 'ag', 'files', 'ix', 'par', 'max')
local attempt, agent, ix, parent = tonumber(f[1]), f[2], f[4], f[5]
local waiters = releaseFiles(id, token, f[3])
local state, dueAt = 'pending', 0
if kind == 'complete' then
  state = 'done'
  rcall('HSET', key, 'st', 'done', 'up', now)
  if ARGV[8] ~= '' then rcall('HSET', key, 'res', ARGV[8]) end
  setStatus(id, ix, 'running', 'done')
  emit(now, pid, 'completed', id, agent, attempt, nil)
  childEnded(now, pid, parent, id, 'done')
elseif kind == 'fail' then
  local err = { attempt = attempt, at = now, message = payload.message, permanent = payload.permanent, agent = agent, kind = 'failed' }
  local errJson = cjson.encode(err)
  rcall('RPUSH', base .. ':err:' .. id, errJson)
  rcall('HSET', key, 'lerr', errJson)
  emit(now, pid, 'failed', id, agent, attempt, { message = payload.message, permanent = payload.permanent })
  if payload.permanent or attempt >= tonumber(f[6]) then
    state = 'dead'
    rcall('HSET', key, 'st', 'dead', 'up', now)
    setStatus(id, ix, 'running', 'dead')
    emit(now, pid, 'dead', id, nil, attempt, { message = payload.message })
    childEnded(now, pid, parent, id, 'dead')
  else
    local delay = math.min(payload.capMs, payload.baseMs * math.pow(payload.multiplier, math.max(0, attempt - 1)))
    delay = math.floor(delay * (1 - payload.jitter * payload.random) + 0.5)
    dueAt = math.max(now + delay, payload.retryAt or 0)
    rcall('HSET', key, 'st', 'pending', 'due', dueAt, 'up', now)
    setStatus(id, ix, 'running', 'pending')
    if parent then rcall('SREM', base .. ':kr:' .. parent, id) end
    emit(now, pid, 'retry-scheduled', id, nil, attempt, { dueAt = dueAt })
  end
else
  attempt = math.max(0, attempt - 1)
  rcall('HSET', key, 'st', 'pending', 'att', attempt, 'up', now)
  rcall('HDEL', key, 'due')
  setStatus(id, ix, 'running', 'pending')
  if parent then rcall('SREM', base .. ':kr:' .. parent, id) end
  emit(now, pid, 'requeued', id, agent, attempt + 1, { released = true, reason = payload.reason })
end
if state ~= 'done' then rcall('HDEL', key, 'ag', 'lexp') end
return { 'ok', state, attempt, dueAt, unpack(waiters) }
`;

/**
 * Takes over jobs BullMQ still lists as active whose lock lapsed: a crashed or stopped holder (the
 * lease expired: recorded, back to pending or dead) or a process that died between our commit and
 * BullMQ's move (the recorded state is applied). Also finds posts recorded but never handed to
 * BullMQ. At most once per interval across all processes unless forced.
 * ARGV: base, now, pid, takeover token prefix, takeover lock ms, interval ms, force, post repair age ms.
 * Returns { {id, token, state, dueAt, reclaimed 0/1, waiterCount, waiters...}..., {stale post ids} }.
 */
export const SWEEP = `${WRITES}${COMMON}
local now, pid, prefix, lockMs, interval, force = tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local repairAge = tonumber(ARGV[8])
if force ~= '1' then
  if not rcall('SET', base .. ':sweep', now, 'NX', 'PX', interval) then return { {}, {} } end
end
local out = {}
for _, id in ipairs(rcall('LRANGE', queue .. 'active', 0, -1)) do
  if rcall('EXISTS', lockKey(id)) == 0 then
    local token = prefix .. id
    rcall('SET', lockKey(id), token, 'PX', lockMs)
    local key = tkey(id)
    local f = rcall('HMGET', key, 'st', 'att', 'ag', 'tok', 'files', 'ix', 'par', 'max', 'due')
    local state, dueAt, waiters, reclaimed = f[1] or 'orphan', tonumber(f[9] or '0'), {}, 0
    if state == 'running' then
      reclaimed = 1
      local attempt = tonumber(f[2])
      local message = 'The lease of agent ' .. (f[3] or '?') .. ' expired (the agent crashed, hung or lost contact).'
      local errJson = cjson.encode({ attempt = attempt, at = now, message = message, permanent = false, agent = f[3], kind = 'lease-expired' })
      rcall('RPUSH', base .. ':err:' .. id, errJson)
      rcall('HSET', key, 'lerr', errJson, 'rtok', f[4], 'up', now)
      rcall('HDEL', key, 'ag', 'lexp', 'due')
      waiters = releaseFiles(id, f[4], f[5])
      local toDead = attempt >= tonumber(f[8])
      emit(now, pid, 'reclaimed', id, f[3], attempt, { toDead = toDead })
      if toDead then
        state = 'dead'
        rcall('HSET', key, 'st', 'dead')
        setStatus(id, f[6], 'running', 'dead')
        emit(now, pid, 'dead', id, nil, attempt, { message = message })
        childEnded(now, pid, f[7], id, 'dead')
      else
        state = 'pending'
        dueAt = 0
        rcall('HSET', key, 'st', 'pending')
        setStatus(id, f[6], 'running', 'pending')
        if f[7] then rcall('SREM', base .. ':kr:' .. f[7], id) end
      end
    end
    out[#out + 1] = id
    out[#out + 1] = token
    out[#out + 1] = state
    out[#out + 1] = dueAt
    out[#out + 1] = reclaimed
    out[#out + 1] = #waiters
    for _, waiter in ipairs(waiters) do out[#out + 1] = waiter end
  end
end
local stale = {}
for _, id in ipairs(rcall('ZRANGEBYSCORE', base .. ':posting', '-inf', now - repairAge, 'LIMIT', 0, 100)) do
  rcall('ZREM', base .. ':posting', id)
  if rcall('EXISTS', queue .. id) == 0 and rcall('HGET', tkey(id), 'st') == 'pending' then stale[#stale + 1] = id end
end
return { out, stale }
`;

/**
 * Cancels a task that has not ended. A running holder's lock is taken over, so its next heartbeat
 * or completion is refused at once. ARGV: base, id, now, pid, takeover token, lock ms.
 * Returns {'ok', from, waiters...} | {'ended', state} | {'missing'} | {'parent', childIds...}.
 */
export const CANCEL = `${WRITES}${COMMON}
local id, now, pid, stealToken, lockMs = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local key = tkey(id)
local f = rcall('HMGET', key, 'st', 'tok', 'ag', 'files', 'ix', 'par')
local st = f[1]
if not st then return { 'missing' } end
if st == 'done' or st == 'dead' or st == 'cancelled' then return { 'ended', st } end
rcall('HSET', key, 'st', 'cancelled', 'up', now)
rcall('HDEL', key, 'due', 'lexp')
setStatus(id, f[5], st, 'cancelled')
local waiters = {}
if st == 'running' then
  if rcall('GET', lockKey(id)) == f[2] then rcall('SET', lockKey(id), stealToken, 'PX', lockMs) end
  waiters = releaseFiles(id, f[2], f[4])
end
emit(now, pid, 'cancelled', id, st == 'running' and f[3] or nil, nil, { from = st })
if st == 'waiting' then return { 'parent', unpack(rcall('SMEMBERS', base .. ':kc:' .. id)) } end
childEnded(now, pid, f[6], id, 'cancelled')
return { 'ok', st, unpack(waiters) }
`;

/** Records a requeue of a dead task after BullMQ moved it back. ARGV: base, id, now, pid. */
export const REQUEUED = `${WRITES}${COMMON}
local id, now, pid = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local key = tkey(id)
local f = rcall('HMGET', key, 'st', 'ix', 'par')
if f[1] ~= 'dead' then return f[1] or 'missing' end
rcall('HSET', key, 'st', 'pending', 'att', 0, 'up', now)
rcall('HDEL', key, 'due')
setStatus(id, f[2], 'dead', 'pending')
if f[3] then
  if rcall('HDEL', base .. ':k:' .. f[3], id) == 1 then rcall('HINCRBY', tkey(f[3]), 'n_dead', -1) end
end
emit(now, pid, 'requeued', id, nil, nil, nil)
return 'ok'
`;

/**
 * One page of task records, oldest first. ARGV: base, index name, after member ('' for none), offset, limit.
 * Returns {total, next member or '', record fields..., separated by '|' markers}.
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

/** Counts per status and the progress of every waiting map task. ARGV: base. */
export const STATS = `${READS}
local rcall = redis.call
local base = ARGV[1]
local out = {}
for _, status in ipairs({ 'pending', 'running', 'done', 'dead', 'cancelled', 'waiting' }) do
  out[#out + 1] = rcall('ZCARD', base .. ':s:' .. status)
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

export const SCRIPTS = { POST, CLAIMED, HEARTBEAT, FINISH, SWEEP, CANCEL, REQUEUED, PAGE, STATS, ARTIFACTS } as const;
