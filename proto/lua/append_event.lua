-- Store one SSE event of a session's stream and announce it, atomically, so a front
-- resuming the stream either reads it from the stream or receives the announcement.
-- KEYS[1]: the stream's entries. ARGV[1]: the channel. ARGV[2]: the stream's name.
-- ARGV[3]: the JSON-RPC message ("" for the priming marker). ARGV[4]: "1" if final.
-- ARGV[5]: max entries kept (approximate). ARGV[6]: TTL ms. Returns the entry id.
local id
if ARGV[3] == "" then
  id = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[5], "*", "p", "1")
else
  id = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[5], "*", "d", ARGV[3], "f", ARGV[4])
  local final = "false"
  if ARGV[4] == "1" then final = "true" end
  -- StoredEvent, array-like: [stream, entry, data, final]; names and ids need no escaping.
  redis.call("PUBLISH", ARGV[1], '["' .. ARGV[2] .. '","' .. id .. '",' .. ARGV[3] .. ',' .. final .. ']')
end
redis.call("PEXPIRE", KEYS[1], ARGV[6])
return id
