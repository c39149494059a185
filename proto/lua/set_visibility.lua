-- Turn registered items of one list (tools, prompts or resources) on or off for the whole
-- fleet (ADR-0010), and announce the list change if an item's state really changed, in the
-- same atomic step: a request that changes nothing announces nothing.
-- An override is stored only where it departs from what the caller's deployment declares
-- for the item; a request for the declared state drops it.
-- KEYS[1]: the list's visibility hash. ARGV[1]: the change channel. ARGV[2]: the
-- announcement. ARGV[3]: "enabled", "disabled", "toggle" (the opposite of the item's state
-- now) or "declared" (drop the override). ARGV[4], ARGV[5], ...: pairs of an item and its
-- declared state ("enabled", "disabled", or "" for an item the caller's app does not have).
-- Returns how many items changed state.
local changed = 0
for i = 4, #ARGV, 2 do
  local item, declared = ARGV[i], ARGV[i + 1]
  local before = redis.call("HGET", KEYS[1], item) or declared
  local after = ARGV[3]
  if after == "toggle" then
    if before == "disabled" then after = "enabled" else after = "disabled" end
  elseif after == "declared" then
    after = declared
  end
  if after == declared then
    redis.call("HDEL", KEYS[1], item)
  else
    redis.call("HSET", KEYS[1], item, after)
  end
  if after ~= before then
    changed = changed + 1
  end
end
if changed > 0 then
  redis.call("PUBLISH", ARGV[1], ARGV[2])
end
return changed
