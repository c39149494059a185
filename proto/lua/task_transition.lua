-- Move a durable task to a new status (ADR-0011), unless it has ended: completed, failed
-- and cancelled never change again, whoever asks (a worker finishing after a cancel, a
-- supervisor settling a run that already ended). Publishes the change as a wake-up.
-- KEYS[1]: the task's hash. ARGV[1]: the task events channel. ARGV[2]: the task id.
-- ARGV[3]: the new status ("" keeps the status: a progress report of a task waiting for
-- input leaves it input_required). ARGV[4]: now (ms). ARGV[5]: "1" to count a run (attempts + 1).
-- ARGV[6], ARGV[7], ...: pairs of other fields to set (a field with an empty value is
-- deleted).
-- Returns 1 if it moved, 0 if the task had ended, -1 if there is no such task.
local status = redis.call("HGET", KEYS[1], "status")
if not status then
  return -1
end
if status == "completed" or status == "failed" or status == "cancelled" then
  return 0
end
local target = ARGV[3]
if target == "" then
  target = status
end
-- One HSET and at most one HDEL, whatever the number of fields: each command counts.
local sets = {"status", target, "updated", ARGV[4]}
local deletes = {}
for i = 6, #ARGV, 2 do
  if ARGV[i + 1] == "" then
    deletes[#deletes + 1] = ARGV[i]
  else
    sets[#sets + 1] = ARGV[i]
    sets[#sets + 1] = ARGV[i + 1]
  end
end
redis.call("HSET", KEYS[1], unpack(sets))
if #deletes > 0 then
  redis.call("HDEL", KEYS[1], unpack(deletes))
end
if ARGV[5] == "1" then
  redis.call("HINCRBY", KEYS[1], "attempts", 1)
end
redis.call("PUBLISH", ARGV[1], ARGV[2] .. " " .. target)
return 1
