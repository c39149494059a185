-- Take a client's answers to a durable task's input requests (ADR-0011). An answer counts
-- only while its request is outstanding (field "request:<key>"): the request goes and the
-- answer is kept as "answer:<key>" for the task's handler; answers to other keys are
-- ignored. Once no request is left, an input_required task goes back to working. A task that
-- has ended takes nothing.
-- KEYS[1]: the task's hash. ARGV[1]: the task events channel. ARGV[2]: the task id.
-- ARGV[3]: now (ms). ARGV[4], ARGV[5], ...: pairs of a request's key and its answer (JSON).
-- Returns how many answers were taken, -1 if there is no such task.
local status = redis.call("HGET", KEYS[1], "status")
if not status then
  return -1
end
if status == "completed" or status == "failed" or status == "cancelled" then
  return 0
end
local taken = 0
for i = 4, #ARGV, 2 do
  if redis.call("HDEL", KEYS[1], "request:" .. ARGV[i]) == 1 then
    redis.call("HSET", KEYS[1], "answer:" .. ARGV[i], ARGV[i + 1])
    taken = taken + 1
  end
end
if taken == 0 then
  return 0
end
for _, field in ipairs(redis.call("HKEYS", KEYS[1])) do
  if string.sub(field, 1, 8) == "request:" then
    redis.call("HSET", KEYS[1], "updated", ARGV[3])
    return taken
  end
end
if status == "input_required" then
  status = "working"
end
redis.call("HSET", KEYS[1], "status", status, "updated", ARGV[3])
redis.call("PUBLISH", ARGV[1], ARGV[2] .. " " .. status)
return taken
