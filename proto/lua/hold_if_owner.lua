-- Refresh or release a lock only for its holder (a plain DEL or PEXPIRE could touch a lock
-- that expired and was taken by someone else meanwhile).
-- KEYS[1]: the lock. ARGV[1]: the holder's token. ARGV[2]: "refresh" or "release".
-- ARGV[3]: TTL in milliseconds (refresh). Returns 1 if the caller held the lock, else 0.
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == "release" then
  redis.call("DEL", KEYS[1])
else
  redis.call("PEXPIRE", KEYS[1], ARGV[3])
end
return 1
