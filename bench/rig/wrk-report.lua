-- wrk's done() hook for bench/run.sh: one line the report parses (latencies in microseconds).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RIG requests=%d seconds=%.3f p50=%.1f p99=%.1f p999=%.1f errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), e.connect + e.read + e.write + e.status + e.timeout))
end
