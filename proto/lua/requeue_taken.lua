-- Put a task id that a task thread took off the queue but never registered as started
-- back at the head of the queue (ADR-0020), only if it is still in the intermediate list:
-- the thread, if it ever goes on, then finds it gone and does not run it.
-- KEYS[1]: rq's intermediate list. KEYS[2]: rq's queue list. ARGV[1]: the task id.
-- Returns 1 if it was put back, 0 if it had left the list.
if redis.call("LREM", KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call("LPUSH", KEYS[2], ARGV[1])
return 1
