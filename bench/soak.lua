-- wrk script for the soak (bench/soak.py): bench/serve.lua's requests and JSON line, which gains
-- "versions" (responses per X-Model-Version) and "non_2xx" (responses whose status is not 2xx), and
-- leaves the histogram out: wrk's own p50 and p99 of the run are its numbers.
--
--   wrk -t1 -c64 -d60s -s bench/soak.lua http://127.0.0.1:8000/predict -- bodies.jsonl

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "serve.lua")

local serve_setup = setup
local threads = {}

function setup(thread)
  serve_setup(thread)
  table.insert(threads, thread)
end

-- Seconds of scanning after a minute's run, with no load: the gap between slices it would make.
function histogram(latency)
  return ""
end

versions = {}
non_2xx = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
  local version = headers["x-model-version"] or headers["X-Model-Version"] or "none"
  versions[version] = (versions[version] or 0) + 1
end

function extra_fields()
  local counts, bad = {}, 0
  for _, thread in ipairs(threads) do
    for version, count in pairs(thread:get("versions")) do
      counts[version] = (counts[version] or 0) + count
    end
    bad = bad + thread:get("non_2xx")
  end
  local listed = {}
  for version, count in pairs(counts) do
    -- The service's own text, kept to characters that need no escape in JSON.
    local name = version:gsub("[^%w%._%-]", "?")
    listed[#listed + 1] = string.format('"%s": %d', name, count)
  end
  return string.format(', "versions": {%s}, "non_2xx": %d', table.concat(listed, ", "), bad)
end
