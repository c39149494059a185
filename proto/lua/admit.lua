-- Admit one request to a lane, or refuse it, in one atomic step (ADR-0017): every token
-- bucket that applies must hold a token, the lane must have room and, for a task, its
-- caller a free task slot; only then is each bucket charged one, and the call put on its
-- lane (or the task's slot taken). A refused request changes nothing, and every front of
-- the fleet decides on the same state.
--
-- A bucket is a hash {tokens, ts}: the tokens it held at ts (Redis's clock, in
-- microseconds). It refills continuously at `rate` tokens per second up to `burst`. A
-- bucket with no key is full, so each one is set to expire when it would be full again:
-- an idle caller leaves nothing behind.
--
-- The lane's room: "call", the call stream's entries no worker has taken (its length less
-- the consumer group's pending count, as server/queue_depths.py reads it); "task", the
-- task queue's length. Below `max_queued`, or no bound when it is 0.
--
-- A caller's task slots: a sorted set of the ids of its tasks, scored by when each was
-- admitted (ms). Fewer than `max tasks` members, or no bound when it is 0. Members whose
-- task has ended stay until a refusal: the caller reads their tasks (only it may build
-- their keys), drops the ended ones and asks again.
--
-- KEYS[1..n]: the buckets. KEYS[n+1]: the lane: the call stream ("call"), the task
-- queue's list ("task"). KEYS[n+2] ("task", with a bound): the caller's task slots.
-- ARGV[1]: n. ARGV[2]: "call" (append the call with XADD NOMKSTREAM) or "task" (the
-- caller creates the task next). ARGV[3]: the lane's bound (0: none). ARGV[4]: "call":
-- the workers' consumer group; "task": the caller's most tasks (0: none). ARGV[5]:
-- "call": the entry's field; "task": how long the slots live (ms, renewed with each).
-- ARGV[6] to ARGV[5 + 2n]: each bucket's rate and burst. ARGV[6 + 2n] (the last, so that a
-- front encodes the others once per caller): "call": the encoded call; "task": its id.
--
-- Returns {"ok", entry id} ("call") or {"ok"} ("task"); {"bucket", i, ms until it holds a
-- token, whole tokens left, ms until it is full} when bucket i refuses; {"queue_full",
-- waiting} when the lane is full; {"tasks", held, now (ms), id, admitted (ms), id, ...}
-- when the caller holds all its slots; {"no_lane"} when the call stream does not exist
-- (Redis lost it: the workers make it again). A bucket's refusal comes first: it is the
-- caller's own to wait out.
local n = tonumber(ARGV[1])
local mode = ARGV[2]
local max_queued = tonumber(ARGV[3])
local lane = KEYS[n + 1]
local last = ARGV[6 + 2 * n]
local max_tasks = 0
if mode == "task" then
  max_tasks = tonumber(ARGV[4])
end
local now = 0
if n > 0 or max_tasks > 0 then
  local clock = redis.call("TIME")
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end

local function level(i)
  local rate = tonumber(ARGV[4 + 2 * i])
  local burst = tonumber(ARGV[5 + 2 * i])
  local state = redis.call("HMGET", KEYS[i], "tokens", "ts")
  local tokens, since = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or since == nil then
    return burst, rate, burst
  end
  local elapsed = now - since
  if elapsed < 0 then
    elapsed = 0 -- Redis's clock stepped back (a failover): no refill, never a debt
  end
  return math.min(burst, tokens + elapsed * rate / 1000000), rate, burst
end

local function untaken_calls()
  local length = redis.call("XLEN", lane)
  if length == 0 then
    return 0
  end
  -- A stream without the group (never made yet) has every entry waiting.
  local groups = redis.pcall("XINFO", "GROUPS", lane)
  if type(groups) ~= "table" or groups.err then
    return length
  end
  for _, group in ipairs(groups) do
    local name, pending = nil, 0
    for j = 1, #group, 2 do
      if group[j] == "name" then
        name = group[j + 1]
      elseif group[j] == "pending" then
        pending = group[j + 1]
      end
    end
    if name == ARGV[4] then
      return math.max(length - pending, 0)
    end
  end
  return length
end

local levels = {}
local refused, longest = nil, -1
for i = 1, n do
  local tokens, rate, burst = level(i)
  levels[i] = tokens
  if tokens < 1 then
    local wait_ms = math.ceil((1 - tokens) * 1000 / rate)
    if wait_ms > longest then
      refused, longest = i, wait_ms
    end
  end
end
if refused ~= nil then
  local tokens = levels[refused]
  local rate, burst = tonumber(ARGV[4 + 2 * refused]), tonumber(ARGV[5 + 2 * refused])
  return {"bucket", refused, longest, math.floor(tokens), math.ceil((burst - tokens) * 1000 / rate)}
end

if max_queued > 0 then
  local waiting
  if mode == "call" then
    waiting = untaken_calls()
  else
    waiting = redis.call("LLEN", lane)
  end
  if waiting >= max_queued then
    return {"queue_full", waiting}
  end
end

local slots = KEYS[n + 2]
local now_ms = math.floor(now / 1000)
if max_tasks > 0 then
  local held = redis.call("ZCARD", slots)
  if held >= max_tasks then
    local reply = {"tasks", held, now_ms}
    for _, value in ipairs(redis.call("ZRANGE", slots, 0, -1, "WITHSCORES")) do
      reply[#reply + 1] = value
    end
    return reply
  end
end

local entry = nil
if mode == "call" then
  entry = redis.call("XADD", lane, "NOMKSTREAM", "*", ARGV[5], last)
  if not entry then
    return {"no_lane"}
  end
end

for i = 1, n do
  local rate, burst = tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  local left = levels[i] - 1
  -- %.17g: Lua's own number format keeps 14 digits, too few for microseconds since 1970.
  redis.call("HSET", KEYS[i], "tokens", string.format("%.17g", left), "ts", string.format("%.17g", now))
  redis.call("PEXPIRE", KEYS[i], math.max(1, math.ceil((burst - left) * 1000 / rate)))
end
if entry then
  return {"ok", entry}
end
if max_tasks > 0 then
  redis.call("ZADD", slots, now_ms, last)
  redis.call("PEXPIRE", slots, ARGV[5])
end
return {"ok"}
