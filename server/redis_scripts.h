/*
 * chatd - the Lua scripts of the Redis link (server/redis.c), as C
 * strings. Loaded with SCRIPT LOAD at each connect and run with EVALSHA.
 *
 * Time is Redis's own (TIME, in ms), never a node's clock: nodes' clocks
 * differ, and leases compare across nodes. A script that reads TIME and
 * then writes needs effects replication on Redis 5 and 6 (Redis 7 always
 * does it; the call is still there, deprecated).
 *
 * Keys (doc/cluster.md): nodes zset (node id -> lease expiry, ms), names
 * hash (folded name -> owner node), owned:{node} set (that node's folded
 * names, so a dead node's names are freed without scanning every name),
 * history:{room} list (newest first). Names and rooms come folded from
 * chatd (ASCII lowercase).
 */
#ifndef CHATD_REDIS_SCRIPTS_H
#define CHATD_REDIS_SCRIPTS_H

#define CHATD_LUA_NOW                                                       \
    "if redis.replicate_commands then redis.replicate_commands() end\n"      \
    "local t = redis.call('TIME')\n"                                         \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* KEYS: history:{room}. ARGV: channel, lines kept, then the messages of
 * a batch, oldest first. Appends each (one entry each) and publishes the
 * batch (the messages joined by NUL bytes, as the broker gave them) in
 * one step, so history order is publication order. */
#define CHATD_LUA_PUBLISH                                                   \
    "local n = tonumber(ARGV[2])\n"                                          \
    "if n > 0 then\n"                                                        \
    "  redis.call('LPUSH', KEYS[1], unpack(ARGV, 3))\n"                      \
    "  redis.call('LTRIM', KEYS[1], 0, n - 1)\n"                             \
    "end\n"                                                                  \
    "return redis.call('PUBLISH', ARGV[1], table.concat(ARGV, '\\0', 3))\n"

/* KEYS: names, nodes, owned:{us}. ARGV: name, us, old name or "".
 * The name is free when nobody owns it, we do, or its owner's lease is
 * missing or over. A rename gives up the old name (if still ours) in the
 * same step. Returns 1 granted, 0 taken. */
#define CHATD_LUA_CLAIM                                                     \
    CHATD_LUA_NOW                                                            \
    "local owner = redis.call('HGET', KEYS[1], ARGV[1])\n"                   \
    "if owner and owner ~= ARGV[2] then\n"                                   \
    "  local exp = redis.call('ZSCORE', KEYS[2], owner)\n"                   \
    "  if exp and tonumber(exp) >= now then return 0 end\n"                  \
    "end\n"                                                                  \
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"                        \
    "redis.call('SADD', KEYS[3], ARGV[1])\n"                                 \
    "if ARGV[3] ~= '' and ARGV[3] ~= ARGV[1] then\n"                         \
    "  if redis.call('HGET', KEYS[1], ARGV[3]) == ARGV[2] then\n"            \
    "    redis.call('HDEL', KEYS[1], ARGV[3])\n"                             \
    "  end\n"                                                                \
    "  redis.call('SREM', KEYS[3], ARGV[3])\n"                               \
    "end\n"                                                                  \
    "return 1\n"

/* KEYS: names, owned:{us}. ARGV: name, us. Only our own name is freed;
 * name "" frees every name we hold (the broker gives all back after an
 * outage, then claims again what its users hold). */
#define CHATD_LUA_RELEASE                                                   \
    "if ARGV[1] == '' then\n"                                               \
    "  for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"         \
    "    if redis.call('HGET', KEYS[1], name) == ARGV[2] then\n"            \
    "      redis.call('HDEL', KEYS[1], name)\n"                             \
    "    end\n"                                                             \
    "  end\n"                                                               \
    "  redis.call('DEL', KEYS[2])\n"                                        \
    "  return 1\n"                                                          \
    "end\n"                                                                 \
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then\n"              \
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"                               \
    "end\n"                                                                  \
    "redis.call('SREM', KEYS[2], ARGV[1])\n"                                 \
    "return 1\n"

/* The names of node ARGV[1] whose owner is still that node are freed, and
 * its owned set goes (KEYS[2] is names, ARGV[3] the owned: prefix). */
#define CHATD_LUA_FREE_NAMES                                                \
    "local function free_names(node)\n"                                      \
    "  local okey = ARGV[3] .. node\n"                                       \
    "  for _, name in ipairs(redis.call('SMEMBERS', okey)) do\n"             \
    "    if redis.call('HGET', KEYS[2], name) == node then\n"                \
    "      redis.call('HDEL', KEYS[2], name)\n"                              \
    "    end\n"                                                              \
    "  end\n"                                                                \
    "  redis.call('DEL', okey)\n"                                            \
    "end\n"

/* KEYS: nodes, names. ARGV: us, lease ms, owned: prefix, reap (1 or 0).
 * Renews our lease and, with reap, removes every node whose lease is
 * over, freeing its names (not in the heartbeat that sets a link up: the
 * broker must be told the link is up before it can announce a node gone
 * to the others, or nobody would). Returns
 * {lapsed, removed}: lapsed 1 when our own lease was missing or over
 * before this call (we were cut off: another node may have removed us),
 * removed the nodes this call removed (so each dead node is announced by
 * one node only). At most 100 nodes a call; the next beat does the rest. */
#define CHATD_LUA_HEARTBEAT                                                 \
    CHATD_LUA_NOW CHATD_LUA_FREE_NAMES                                       \
    "local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"                  \
    "local lapsed = 0\n"                                                     \
    "if not mine or tonumber(mine) < now then lapsed = 1 end\n"              \
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"        \
    "if ARGV[4] ~= '1' then return {lapsed, {}} end\n"                     \
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now,\n"\
    "                        'LIMIT', 0, 100)\n"                             \
    "for _, node in ipairs(dead) do\n"                                       \
    "  redis.call('ZREM', KEYS[1], node)\n"                                  \
    "  free_names(node)\n"                                                   \
    "end\n"                                                                  \
    "return {lapsed, dead}\n"

/* KEYS: nodes, names. ARGV: us, unused, owned: prefix. A clean exit:
 * our names are freed now, and our lease is set to have run out rather
 * than removed, so the next heartbeat of another node removes us and
 * announces any of our users that node still knows (a presence message
 * lost in the shutdown leaves no ghost behind). */
#define CHATD_LUA_LEAVE                                                     \
    CHATD_LUA_FREE_NAMES                                                     \
    "redis.call('ZADD', KEYS[1], 0, ARGV[1])\n"                              \
    "free_names(ARGV[1])\n"                                                  \
    "return 1\n"

#endif /* CHATD_REDIS_SCRIPTS_H */
