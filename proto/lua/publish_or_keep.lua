-- Publish a final reply to a front; if no one is subscribed (the front's subscription is
-- reconnecting), keep it in the front's kept-replies hash so the front can fetch it.
-- Atomic: a front that resubscribes and then reads the hash misses nothing.
-- KEYS[1]  kept-replies hash of the front
-- ARGV[1]  the front's reply channel
-- ARGV[2]  the encoded reply
-- ARGV[3]  the call id (hash field)
-- ARGV[4]  how long kept replies live, in seconds
if redis.call('PUBLISH', ARGV[1], ARGV[2]) == 0 then
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 0
end
return 1
