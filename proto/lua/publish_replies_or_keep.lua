-- Publish several final replies to one front as one message (a JSON array of the replies,
-- ADR-0022); if no one is subscribed (the front's subscription is reconnecting), keep each
-- in the front's kept-replies hash under its call id, as PUBLISH_OR_KEEP keeps one.
-- Atomic: a front that resubscribes and then reads the hash misses nothing.
-- KEYS[1]  kept-replies hash of the front
-- ARGV[1]  the front's reply channel
-- ARGV[2]  how long kept replies live, in seconds
-- ARGV[3], ARGV[4], ...  pairs of a call id (hash field) and its encoded reply
local replies = {}
for i = 4, #ARGV, 2 do
  replies[#replies + 1] = ARGV[i]
end
if redis.call('PUBLISH', ARGV[1], '[' .. table.concat(replies, ',') .. ']') == 0 then
  local fields = {}
  for i = 3, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 0
end
return 1
