-- A front starting up records the digest of the tool list it serves; if the digest
-- recorded before differs, the fleet's tool list changed (a new deployment came up) and
-- every front is told, atomically with the write: of two fronts starting at once with the
-- same new catalog exactly one announces.
-- No digest recorded yet also announces: after Redis lost its data the previous catalog is
-- unknown, and a needless list change only costs clients a refetch.
-- KEYS[1]: the fleet's catalog digest. ARGV[1]: this front's digest. ARGV[2]: the change
-- channel. ARGV[3]: the announcement. Returns 1 if it announced, else 0.
local previous = redis.call("GET", KEYS[1])
redis.call("SET", KEYS[1], ARGV[1])
if previous == ARGV[1] then
  return 0
end
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1
