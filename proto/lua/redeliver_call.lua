-- Put a lost worker's call back on the call stream for another worker (ADR-0014), once:
-- the entry is acknowledged first, and only the caller whose XACK took it appends the next
-- run, so two supervisors settling the same dead worker cannot both redeliver it.
-- KEYS[1]  the call stream
-- ARGV[1]  the consumer group
-- ARGV[2]  the entry id of the lost run
-- ARGV[3]  the payload field name
-- ARGV[4]  the encoded call of the next run
-- Returns the new entry's id, or false if the entry was no longer pending.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return false
end
redis.call('XDEL', KEYS[1], ARGV[2])
return redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[4])
