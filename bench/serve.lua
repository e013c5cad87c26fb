-- wrk script for bench/serve.py: POST JSON bodies read from a file (one body per line), cycled
-- per request, each thread starting at its own offset; prints one JSON line when done:
-- counts, errors and the latency histogram.
--
--   wrk -t1 -c8 -d10s -s bench/serve.lua http://127.0.0.1:8000/predict -- bodies.jsonl

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local requests = {}
local count = 0
local index = 0

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s serve.lua URL -- BODIES_FILE")
  end
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(path) do
    if #line > 0 then
      count = count + 1
      -- Pre-encoded: request() only hands the next one out.
      requests[count] = wrk.format("POST", nil, headers, line)
    end
  end
  if count == 0 then
    error("no request bodies in " .. path)
  end
  index = (id or 0) * 7919 % count
end

function request()
  index = index % count + 1
  return requests[index]
end

-- More fields for the JSON line (`, "name": value...`): none here; bench/soak.lua adds some.
function extra_fields()
  return ""
end

-- The whole latency histogram, "[microseconds,count]" pairs, so that runs can be merged exactly.
-- wrk finds the i-th value by scanning its whole range: after a long run with a wide spread this
-- takes seconds (after the measured duration, with no load); bench/soak.lua leaves it out.
function histogram(latency)
  local listed = {}
  for i = 1, #latency do
    local value, count = latency(i)
    listed[#listed + 1] = string.format("[%d,%d]", value, count)
  end
  return table.concat(listed, ",")
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, "errors": '
      .. '{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "latency_us": [%s]%s}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, histogram(latency), extra_fields()))
end
