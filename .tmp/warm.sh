#!/bin/bash
# usage: warm.sh N... ; alternates warm-up counts, 2 rounds
export PATH=/work/main/node_modules/.bin:$PATH
cd /work/main
CACHE=/tmp/warm-cc; rm -rf $CACHE; mkdir -p $CACHE
# warm the compile cache once (as the image does)
NODE_COMPILE_CACHE=$CACHE NODE_OPTIONS="--max-old-space-size=80 --max-semi-space-size=4" NODE_ENV=production DOCS_ENABLED=false node scripts/docker/warm-compile-cache.ts dist/users/main.mjs >/dev/null 2>&1
for round in 1 2; do for n in "$@"; do
  port=$((19000 + RANDOM % 500))
  start=$(date +%s%N)
  (NODE_COMPILE_CACHE=$CACHE WARM_UP_REQUESTS=$n DATABASE_URL=memory:// DOCS_ENABLED=false NODE_ENV=production LOG_LEVEL=info PORT=$port HOST=127.0.0.1 OTEL_EXPORTER_OTLP_ENDPOINT= exec taskset -c 1 node bench/lib/pod.ts -- node dist/users/main.mjs >/dev/null 2>/tmp/warm-pod.err) & pid=$!
  for i in $(seq 1 3000); do curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$port/readyz 2>/dev/null | grep -q 200 && break; sleep 0.005; done
  ready=$(( ($(date +%s%N)-start)/1000000 ))
  id=$(curl -s -XPOST -H 'content-type: application/json' -d "{\"name\":\"a\",\"email\":\"a$RANDOM@x.io\"}" 127.0.0.1:$port/users | sed 's/.*"id":"\([^"]*\)".*/\1/')
  out=$(taskset -c 0 wrk -t1 -c50 -d10s --latency http://127.0.0.1:$port/users/$id)
  out2=$(taskset -c 0 wrk -t1 -c50 -d10s --latency http://127.0.0.1:$port/users/$id)
  echo "warm=$n ready=${ready}ms first10s: $(echo "$out" | awk '/Requests\/sec/{print $2" req/s"} / 99%/{print "P99 "$2}' | tr '\n' ' ') next10s: $(echo "$out2" | awk '/Requests\/sec/{print $2" req/s"} / 99%/{print "P99 "$2}' | tr '\n' ' ')"
  kill $pid; wait $pid 2>/dev/null
done; done
