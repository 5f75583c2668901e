-- wrk script for bench/run.mjs. Usage: wrk ... -s wrk.lua <url> -- <credentials-file>
-- Each line of the credentials file is an Authorization header value (empty line: no header).
-- Requests are pre-built in init() and rotated, so the generator does no formatting per request.
-- response() counts every status code, so a run reports exactly which statuses it saw;
-- done() prints one JSON line for run.mjs to parse.

local pool = {}
local i = 0
statuses = {}

function init(args)
  for line in io.lines(args[1]) do
    local headers = {}
    if line ~= "" then headers["Authorization"] = line end
    pool[#pool + 1] = wrk.format("GET", wrk.path, headers)
  end
  -- Start each thread at a different point of the pool.
  i = math.random(#pool) - 1
end

function request()
  i = i % #pool + 1
  return pool[i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    parts[#parts + 1] = string.format('"%d":%d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
