-- bench/peers/wrk.lua: wrk script of bench/peers.sh. done() prints one line "PEERS_JSON {...}" with the run's figures
-- (latency in microseconds). With PEERS_COUNT_CLOSE=1 in the environment it also counts the responses that carry
-- "Connection: close" (a response() callback costs wrk time, so only the churn scenario asks for it).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  closing = 0
end

if os.getenv("PEERS_COUNT_CLOSE") == "1" then
  function response(status, headers, body)
    responses = responses + 1
    for name, value in pairs(headers) do
      if string.lower(name) == "connection" and string.lower(value) == "close" then
        closing = closing + 1
      end
    end
  end
end

function done(summary, latency, requests)
  local counted, closes = 0, 0
  for _, thread in ipairs(threads) do
    counted = counted + (thread:get("responses") or 0)
    closes = closes + (thread:get("closing") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'PEERS_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f,"stdev_us":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"responses_counted":%d,"responses_closing":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99), latency.max,
    latency.mean, latency.stdev, e.connect, e.read, e.write, e.status, e.timeout, counted, closes))
end
