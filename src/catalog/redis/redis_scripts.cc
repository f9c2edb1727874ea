#include "catalog/redis/redis_scripts.h"

namespace shardlake::redis {

namespace {

// Helpers shared by every script (prepended to each).
constexpr const char* kPrelude = R"lua(
local function fail(code, message)
  return redis.error_reply(code .. ' ' .. message)
end

-- Exact comparison of two canonical decimal int64 strings: -1, 0 or 1.
local function cmp(a, b)
  local na = string.sub(a, 1, 1) == '-'
  local nb = string.sub(b, 1, 1) == '-'
  if na ~= nb then
    if na then return -1 else return 1 end
  end
  if na then
    a = string.sub(a, 2)
    b = string.sub(b, 2)
  end
  local c = 0
  if #a ~= #b then
    if #a < #b then c = -1 else c = 1 end
  elseif a ~= b then
    if a < b then c = -1 else c = 1 end
  end
  if na then c = -c end
  return c
end

local function files_key(db, tbl, seg) return 'files:' .. db .. ':' .. tbl .. ':' .. seg end
local function folders_key(db, tbl) return 'folders:' .. db .. ':' .. tbl end
local function span_key(db, tbl) return 'shardlake:span:' .. db .. ':' .. tbl end
local function leases_key(db, tbl) return 'shardlake:leases:' .. db .. ':' .. tbl end
local function leased_key(db, tbl) return 'shardlake:leased:' .. db .. ':' .. tbl end
local function droplists_key(db, tbl) return 'shardlake:droplists:' .. db .. ':' .. tbl end
local function version_key(db, tbl) return 'shardlake:version:' .. db .. ':' .. tbl end

-- Records a change of a table (Index::ChangeVersion); part of every script
-- that changes the table, so it is atomic with the change. A counter that
-- must be created (first change, or Redis lost its data) starts at the
-- server's time in microseconds, so a version never repeats.
local function touch(db, tbl)
  local key = version_key(db, tbl)
  if redis.call('EXISTS', key) == 0 then
    local now = redis.call('TIME')
    redis.call('SET', key, now[1] .. string.format('%06d', tonumber(now[2])))
  end
  redis.call('INCR', key)
end

-- The files-hash suffix of a folder: its first segment, '_root' for ''.
local function seg_of_folder(folder)
  if folder == '' then return '_root' end
  return string.match(folder, '^([^/]+)/') or folder
end

-- Every files-hash suffix of a table (from GigAPI's folders hash and our
-- span hash), each once.
local function all_segments(db, tbl)
  local seen, out = {}, {}
  local function add(s)
    if not seen[s] then
      seen[s] = true
      out[#out + 1] = s
    end
  end
  for _, f in ipairs(redis.call('HKEYS', folders_key(db, tbl))) do add(seg_of_folder(f)) end
  for _, s in ipairs(redis.call('HKEYS', span_key(db, tbl))) do add(s) end
  return out
end

-- Widens the [min, max] span of a files hash to include [lo, hi].
local function widen(db, tbl, seg, lo, hi)
  local sk = span_key(db, tbl)
  local cur = redis.call('HGET', sk, seg)
  if cur then
    local a, b = string.match(cur, '^(%S+) (%S+)$')
    if a then
      if cmp(a, lo) < 0 then lo = a end
      if cmp(b, hi) > 0 then hi = b end
    end
  end
  redis.call('HSET', sk, seg, lo .. ' ' .. hi)
end

local function add_entry(db, tbl, seg, path, folder, json, lo, hi)
  redis.call('HSET', files_key(db, tbl, seg), path, json)
  redis.call('HINCRBY', folders_key(db, tbl), folder, 1)
  widen(db, tbl, seg, lo, hi)
end

local function remove_entry(db, tbl, seg, path, folder)
  local fk = files_key(db, tbl, seg)
  redis.call('HDEL', fk, path)
  local fo = folders_key(db, tbl)
  if redis.call('HINCRBY', fo, folder, -1) <= 0 then redis.call('HDEL', fo, folder) end
  if redis.call('EXISTS', fk) == 0 then redis.call('HDEL', span_key(db, tbl), seg) end
end

-- The files hashes a time-range query must read (ARGV layout of kQueryScript).
-- A hash is skipped only when it provably holds nothing in range: its
-- recorded span (entries written by shardlake) does not overlap and, for a
-- GigAPI day hash, its day is outside [first_day, last_day].
local function query_keys(db, tbl, only, after, before, first_day, last_day)
  local segs
  if only ~= '' then segs = {only} else segs = all_segments(db, tbl) end
  local bounded = after ~= '' or before ~= ''
  local sk = span_key(db, tbl)
  local keys = {}
  for _, seg in ipairs(segs) do
    local keep = true
    if bounded then
      local known, hit = false, false
      local span = redis.call('HGET', sk, seg)
      if span then
        local lo, hi = string.match(span, '^(%S+) (%S+)$')
        if lo then
          known = true
          hit = (after == '' or cmp(hi, after) >= 0) and (before == '' or cmp(lo, before) <= 0)
        end
      end
      local day = string.match(seg, '^date=(%d%d%d%d%-%d%d%-%d%d)$')
      if day then
        known = true
        hit = hit or ((first_day == '' or day >= first_day) and (last_day == '' or day <= last_day))
      end
      keep = hit or not known
    end
    if keep then keys[#keys + 1] = files_key(db, tbl, seg) end
  end
  return keys
end

-- Ends lease `lid`: its record, its holds on paths, its processing-list item.
local function release(db, tbl, lid)
  local lk = leases_key(db, tbl)
  local lsd = leased_key(db, tbl)
  local rec = redis.call('HGET', lk, lid)
  if not rec then return end
  local ok, d = pcall(cjson.decode, rec)
  if ok and type(d) == 'table' then
    if type(d.paths) == 'table' then
      for _, p in ipairs(d.paths) do
        if redis.call('HGET', lsd, p) == lid then redis.call('HDEL', lsd, p) end
      end
    end
    if type(d.list) == 'string' then redis.call('LREM', d.list, 0, rec) end
  end
  redis.call('HDEL', lk, lid)
end
)lua";

}  // namespace

std::string ScriptSource(const Script& script) { return std::string(kPrelude) + script.body; }

const Script kBatchScript = {"batch", R"lua(
local strict = ARGV[1] == '1'
local n_add = tonumber(ARGV[2])
local n_rm = tonumber(ARGV[3])
local CHUNK = 1000  -- fields per HMGET / HSET / HDEL call (unpack limits)

-- Group argument positions by files hash, keeping first-seen order.
local function grouper()
  return {by_key = {}, order = {}}
end
local function group(g, db, tbl, seg, i)
  local key = files_key(db, tbl, seg)
  local e = g.by_key[key]
  if not e then
    e = {db = db, tbl = tbl, seg = seg, idx = {}}
    g.by_key[key] = e
    g.order[#g.order + 1] = key
  end
  e.idx[#e.idx + 1] = i
end
-- Calls fn(i, value) for the stored value of each position's path (field
-- ARGV[i + 3]); stops at and returns fn's first non-nil result.
local function each_value(key, idx, fn)
  for s = 1, #idx, CHUNK do
    local e = math.min(s + CHUNK - 1, #idx)
    local fields = {}
    for j = s, e do fields[#fields + 1] = ARGV[idx[j] + 3] end
    local values = redis.call('HMGET', key, unpack(fields))
    for j = s, e do
      local r = fn(idx[j], values[j - s + 1])
      if r then return r end
    end
  end
  return nil
end

-- Validate everything first: nothing is written before these loops end.
local seen = {}
local function duplicate(db, tbl, path)
  local id = db .. '\0' .. tbl .. '\0' .. path
  if seen[id] then
    return fail('INVALID_ARGUMENT', 'path ' .. path .. ' of ' .. db .. '.' .. tbl ..
                ' appears more than once in the batch')
  end
  seen[id] = true
  return nil
end
local adds, removes = grouper(), grouper()
for k = 0, n_add - 1 do
  local i = 4 + 8 * k
  local db, tbl, seg, path = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local err = duplicate(db, tbl, path)
  if err then return err end
  if strict and not string.find(path, '[^/]%.%d+%.parquet$') then
    return fail('INVALID_ARGUMENT', 'added path ' .. path .. ' of ' .. db .. '.' .. tbl ..
                ' does not end in .<N>.parquet')
  end
  group(adds, db, tbl, seg, i)
end
for k = 0, n_rm - 1 do
  local i = 4 + 8 * n_add + 5 * k
  local err = duplicate(ARGV[i], ARGV[i + 1], ARGV[i + 3])
  if err then return err end
  group(removes, ARGV[i], ARGV[i + 1], ARGV[i + 2], i)
end
for _, key in ipairs(adds.order) do
  local err = each_value(key, adds.by_key[key].idx, function(i, value)
    if value then
      return fail('ALREADY_EXISTS', 'cannot add ' .. ARGV[i + 3] .. ' to ' .. ARGV[i] .. '.' ..
                  ARGV[i + 1] .. ': already indexed')
    end
    return nil
  end)
  if err then return err end
end
for _, key in ipairs(removes.order) do
  local err = each_value(key, removes.by_key[key].idx, function(i, value)
    if not value then
      return fail('NOT_FOUND', 'cannot remove ' .. ARGV[i + 3] .. ' from ' .. ARGV[i] .. '.' ..
                  ARGV[i + 1] .. ': not in the index')
    end
    return nil
  end)
  if err then return err end
end

-- Write: removals first, then additions; folder counts and spans once per
-- folder / hash.
local deltas, delta_order = {}, {}
local function bump(db, tbl, folder, d)
  local id = folders_key(db, tbl) .. '\0' .. folder
  if not deltas[id] then
    deltas[id] = {key = folders_key(db, tbl), folder = folder, n = 0}
    delta_order[#delta_order + 1] = id
  end
  deltas[id].n = deltas[id].n + d
end
for _, key in ipairs(removes.order) do
  local g = removes.by_key[key]
  for s = 1, #g.idx, CHUNK do
    local fields = {}
    for j = s, math.min(s + CHUNK - 1, #g.idx) do
      local i = g.idx[j]
      fields[#fields + 1] = ARGV[i + 3]
      bump(g.db, g.tbl, ARGV[i + 4], -1)
    end
    redis.call('HDEL', key, unpack(fields))
  end
  if redis.call('EXISTS', key) == 0 then redis.call('HDEL', span_key(g.db, g.tbl), g.seg) end
end
for _, key in ipairs(adds.order) do
  local g = adds.by_key[key]
  local lo, hi
  for s = 1, #g.idx, CHUNK do
    local fields = {}
    for j = s, math.min(s + CHUNK - 1, #g.idx) do
      local i = g.idx[j]
      fields[#fields + 1] = ARGV[i + 3]
      fields[#fields + 1] = ARGV[i + 5]
      if not lo or cmp(ARGV[i + 6], lo) < 0 then lo = ARGV[i + 6] end
      if not hi or cmp(ARGV[i + 7], hi) > 0 then hi = ARGV[i + 7] end
      bump(g.db, g.tbl, ARGV[i + 4], 1)
    end
    redis.call('HSET', key, unpack(fields))
  end
  widen(g.db, g.tbl, g.seg, lo, hi)
end
local touched = {}
for _, g in ipairs({adds, removes}) do
  for _, key in ipairs(g.order) do
    local e = g.by_key[key]
    local id = e.db .. '\0' .. e.tbl
    if not touched[id] then
      touched[id] = true
      touch(e.db, e.tbl)
    end
  end
end
for _, id in ipairs(delta_order) do
  local d = deltas[id]
  if d.n ~= 0 and redis.call('HINCRBY', d.key, d.folder, d.n) <= 0 then
    redis.call('HDEL', d.key, d.folder)
  end
end
return n_add + n_rm
)lua"};

const Script kQueryScript = {"query", R"lua(
local out = {}
for _, key in ipairs(query_keys(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])) do
  local kv = redis.call('HGETALL', key)
  if #kv > 0 then
    out[#out + 1] = key
    out[#out + 1] = kv
  end
end
return out
)lua"};

const Script kQueryPathsScript = {"query_paths", R"lua(
local out = {redis.call('GET', version_key(ARGV[1], ARGV[2])) or '0'}
for _, key in ipairs(query_keys(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])) do
  for _, path in ipairs(redis.call('HKEYS', key)) do out[#out + 1] = path end
end
return out
)lua"};

const Script kCreateTableScript = {"create_table", R"lua(
if redis.call('EXISTS', ARGV[1]) == 1 then
  return fail('ALREADY_EXISTS', 'the table already exists')
end
redis.call('SET', ARGV[1], ARGV[2])
redis.call('SADD', 'shardlake:tables', ARGV[3])
touch(ARGV[4], ARGV[5])
return 'OK'
)lua"};

const Script kDropTableScript = {"drop_table", R"lua(
local db, tbl, member = ARGV[1], ARGV[2], ARGV[3]
local sk = 'shardlake:schema:' .. db .. ':' .. tbl
if redis.call('EXISTS', sk) == 0 then
  return fail('NOT_FOUND', 'table ' .. db .. '.' .. tbl .. ' does not exist')
end
local entries = {}
for _, seg in ipairs(all_segments(db, tbl)) do
  local fk = files_key(db, tbl, seg)
  for _, v in ipairs(redis.call('HVALS', fk)) do entries[#entries + 1] = v end
  redis.call('DEL', fk)
end
redis.call('DEL', folders_key(db, tbl), span_key(db, tbl), sk)
redis.call('SREM', 'shardlake:tables', member)
local lk = leases_key(db, tbl)
for _, rec in ipairs(redis.call('HVALS', lk)) do
  local ok, d = pcall(cjson.decode, rec)
  if ok and type(d) == 'table' and type(d.list) == 'string' then
    redis.call('LREM', d.list, 0, rec)
  end
end
redis.call('DEL', lk, leased_key(db, tbl))
local dk = droplists_key(db, tbl)
local drops = {}
for _, list in ipairs(redis.call('SMEMBERS', dk)) do
  for _, item in ipairs(redis.call('LRANGE', list, 0, -1)) do drops[#drops + 1] = item end
  redis.call('DEL', list)
end
redis.call('DEL', dk)
touch(db, tbl)
return {entries, drops}
)lua"};

const Script kLeaseScript = {"lease", R"lua(
local db, tbl, now, id, rec, list = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local n = tonumber(ARGV[7])
local lk = leases_key(db, tbl)
local lsd = leased_key(db, tbl)
local function live_lease(lid)
  local r = redis.call('HGET', lk, lid)
  if not r then return false end
  local ok, d = pcall(cjson.decode, r)
  return ok and type(d) == 'table' and type(d.expires_ns) == 'string' and cmp(d.expires_ns, now) > 0
end
-- Check: every source live and not held by an unexpired lease.
local i = 8
for _ = 1, n do
  local seg, path = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', files_key(db, tbl, seg), path) == 0 then return 'CONFLICT' end
  local holder = redis.call('HGET', lsd, path)
  if holder and live_lease(holder) then return 'CONFLICT' end
  i = i + 2
end
-- Release expired leases that held any of the sources (a crashed compactor).
i = 8
for _ = 1, n do
  local path = ARGV[i + 1]
  local holder = redis.call('HGET', lsd, path)
  if holder then
    release(db, tbl, holder)
    redis.call('HDEL', lsd, path)
  end
  i = i + 2
end
redis.call('HSET', lk, id, rec)
redis.call('RPUSH', list, rec)
i = 8
for _ = 1, n do
  redis.call('HSET', lsd, ARGV[i + 1], id)
  i = i + 2
end
return 'OK'
)lua"};

const Script kCompleteMergeScript = {"complete_merge", R"lua(
local db, tbl, now, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mseg, mpath, mfolder, mjson, mlo, mhi = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local due_ns, due_s = ARGV[11], tonumber(ARGV[12])
local n = tonumber(ARGV[13])
local lk = leases_key(db, tbl)
local lsd = leased_key(db, tbl)
local what = 'merge plan ' .. id .. ' of ' .. db .. '.' .. tbl
local rec = redis.call('HGET', lk, id)
if not rec then
  return fail('FAILED_PRECONDITION', what ..
              ' holds no lease (expired and re-planned, abandoned or already completed)')
end
local ok, d = pcall(cjson.decode, rec)
if not ok or type(d) ~= 'table' or type(d.expires_ns) ~= 'string' or type(d.paths) ~= 'table' then
  return fail('DATA_LOSS', 'corrupt lease record ' .. id .. ' in Redis hash ' .. lk)
end
if cmp(d.expires_ns, now) <= 0 then
  return fail('FAILED_PRECONDITION', 'the lease of ' .. what .. ' has expired')
end
if d.target ~= mpath then
  return fail('INVALID_ARGUMENT', what .. ': the merged path ' .. mpath ..
              ' is not the plan target ' .. tostring(d.target))
end
local leased_paths = {}
for _, p in ipairs(d.paths) do leased_paths[p] = true end
if #d.paths ~= n then
  return fail('FAILED_PRECONDITION', what .. ': the sources differ from the leased files')
end
local i = 14
for _ = 1, n do
  local seg, path = ARGV[i], ARGV[i + 1]
  if not leased_paths[path] then
    return fail('FAILED_PRECONDITION', what .. ': source ' .. path .. ' is not in the lease')
  end
  if redis.call('HEXISTS', files_key(db, tbl, seg), path) == 0 then
    return fail('FAILED_PRECONDITION', what .. ': source ' .. path .. ' is no longer live')
  end
  i = i + 3
end
if redis.call('HEXISTS', files_key(db, tbl, mseg), mpath) == 1 then
  return fail('ALREADY_EXISTS', what .. ': the merged path ' .. mpath .. ' is already indexed')
end
-- Write: remove the sources and queue their drops, add the merged file, end
-- the lease.
local dk = droplists_key(db, tbl)
i = 14
for k = 1, n do
  local seg, path, folder = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local layer, writer = 'default', ''
  local raw = redis.call('HGET', files_key(db, tbl, seg), path)
  local eok, e = pcall(cjson.decode, raw)
  if eok and type(e) == 'table' then
    if type(e.layer) == 'string' then layer = e.layer end
    if type(e.writer_id) == 'string' then writer = e.writer_id end
  end
  remove_entry(db, tbl, seg, path, folder)
  redis.call('HDEL', lsd, path)
  local list = 'drop:' .. db .. ':' .. tbl .. ':' .. layer .. ':' .. writer .. ':idle'
  redis.call('RPUSH', list, cjson.encode({id = id .. '-' .. k, writer_id = writer, layer = layer,
                                          path = path, database = db, table = tbl,
                                          time_s = due_s, due_ns = due_ns}))
  redis.call('SADD', dk, list)
  i = i + 3
end
add_entry(db, tbl, mseg, mpath, mfolder, mjson, mlo, mhi)
touch(db, tbl)
redis.call('HDEL', lk, id)
if type(d.list) == 'string' then redis.call('LREM', d.list, 0, rec) end
return 'OK'
)lua"};

const Script kAbandonScript = {"abandon", R"lua(
release(ARGV[1], ARGV[2], ARGV[3])
return 'OK'
)lua"};

const Script kForgetDropsScript = {"forget_drops", R"lua(
local db, tbl, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local want = {}
local i = 4
for _ = 1, n do
  want[ARGV[i] .. '\0' .. ARGV[i + 1]] = true
  i = i + 2
end
local dk = droplists_key(db, tbl)
local removed = 0
for _, list in ipairs(redis.call('SMEMBERS', dk)) do
  for _, item in ipairs(redis.call('LRANGE', list, 0, -1)) do
    local ok, d = pcall(cjson.decode, item)
    if ok and type(d) == 'table' and type(d.path) == 'string' then
      local due = d.due_ns
      if type(due) ~= 'string' then
        due = nil
        if type(d.time_s) == 'number' then
          if d.time_s == 0 then due = '0' else due = string.format('%d', d.time_s) .. '000000000' end
        end
      end
      if due and want[d.path .. '\0' .. due] then
        removed = removed + redis.call('LREM', list, 1, item)
      end
    end
  end
  if redis.call('LLEN', list) == 0 then redis.call('SREM', dk, list) end
end
return removed
)lua"};

}  // namespace shardlake::redis
