-- Slide a durable task's retention on a client's read (ADR-0011, ADR-0020), only while it
-- exists: an HSET after it expired would recreate a record holding one field.
-- KEYS[1]: the task's hash. KEYS[2]: its owner's index.
-- ARGV[1]: the task's retention (ms). ARGV[2]: now (ms). ARGV[3]: the index's retention (ms).
-- Returns 1 if it slid, 0 if the task is gone.
if redis.call("PEXPIRE", KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call("HSET", KEYS[1], "slid", ARGV[2])
redis.call("PEXPIRE", KEYS[2], ARGV[3])
return 1
