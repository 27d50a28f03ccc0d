-- wrk script of bench/run.py (--client wrk): GET the paths of a file in rotation with one
-- header (the API bearer token or the browser session cookie), count answers that are not
-- 2xx, stop after a request budget, and print the run as `emrs-bench` lines that run.py
-- parses (the latency histogram in full, so that several wrk instances can be merged).
--
--   wrk -t1 -c8 -d12s -s bench/wrk.lua http://127.0.0.1:PORT -- PATHS_FILE HEADER VALUE MAX_REQUESTS
--
-- PATHS_FILE: one path a line. MAX_REQUESTS: budget of each wrk thread (0 = none).

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   local paths = {}
   for line in io.lines(args[1]) do
      if #line > 0 then table.insert(paths, line) end
   end
   wrk.headers[args[2]] = args[3]
   wrk.headers["Accept"] = args[2] == "Cookie" and "text/html" or "application/json"
   budget = tonumber(args[4]) or 0
   requests = {}
   for i, path in ipairs(paths) do
      requests[i] = wrk.format("GET", path)
   end
   -- each thread starts at its own place in the list
   n = (id * 7919) % #requests
   non2xx = 0
   done_count = 0
end

function request()
   n = n % #requests + 1
   return requests[n]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
   done_count = done_count + 1
   if budget > 0 and done_count >= budget then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("non2xx") or 0)
   end
   local e = summary.errors
   io.write(string.format("emrs-bench summary requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout, e.status))
   io.write(string.format("emrs-bench percentiles p50=%d p95=%d p99=%d max=%d\n",
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
   -- the histogram: latency (µs) and count of every distinct value
   local parts = {}
   for i = 1, #latency do
      local value, count = latency(i)
      parts[#parts + 1] = value .. ":" .. count
      if #parts == 500 then
         io.write("emrs-bench histogram " .. table.concat(parts, " ") .. "\n")
         parts = {}
      end
   end
   if #parts > 0 then
      io.write("emrs-bench histogram " .. table.concat(parts, " ") .. "\n")
   end
end
