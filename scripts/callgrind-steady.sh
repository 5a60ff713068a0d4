#!/bin/bash
# Instructions per request of `htsandbox serve`, in steady state, under callgrind
# (docs/performance.md, session 15).
#
#   scripts/callgrind-steady.sh SITE HOST.CONF URLPATH label=BUILD_DIR ...
#   (env: WARM seconds before counting, default 40; SECS counted, default 30; PER write system
#    calls per answer, default 2 for FastCGI, 1 for a static file, 3 for CGI; PORT)
#
# One wrk run (HTTP/1.1, keep-alive, as bench.mjs) goes on throughout: counters are zeroed after
# WARM seconds and dumped SECS seconds later, so nothing but the measured request runs in the
# window (a different request there deoptimizes the measured path). Requests are counted from
# the server's write system calls (/proc/PID/io); --fair-sched=yes keeps valgrind's own
# thread-lock pipe writes out of that count. Prints instructions per request, all threads, then
# the main thread's and the others' (JIT compilation and GC helpers) from the dump.
# SITE and HOST.CONF: e.g. what `node ../shared/oracle/bench.mjs --keep` leaves.
set -u
SITE=$1; CONF=$2; URL=$3; shift 3
OUT=${OUT:-/tmp/callgrind-steady}; mkdir -p "$OUT"; chmod 777 "$OUT"
for spec in "$@"; do
  b=${spec%%=*}; d=${spec#*=}
  rm -f "$OUT"/cg-$b.*
  valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file="$OUT"/cg-$b.%p node --perf-basic-prof "$d"/bin/htsandbox.js serve "$SITE" --port ${PORT:-18810} --host 127.0.0.1 --config "$CONF" >/dev/null 2>"$OUT"/vg-$b.log &
  pid=$!
  for i in $(seq 300); do curl -sf -o /dev/null -m 5 http://127.0.0.1:${PORT:-18810}$URL && break; sleep 0.2; done
  vpid=$(pgrep -f "callgrind-out-file=$OUT/cg-$b" | head -1)
  wrk -t1 -c8 -d$(( ${WARM:-40} + ${SECS:-30} + 30 ))s http://127.0.0.1:${PORT:-18810}$URL > /dev/null 2>&1 &
  wp=$!
  sleep ${WARM:-40}
  callgrind_control -z $vpid > /dev/null; w0=$(awk '/syscw/ {print $2}' /proc/$vpid/io)
  sleep ${SECS:-30}
  callgrind_control -d $vpid > /dev/null; w1=$(awk '/syscw/ {print $2}' /proc/$vpid/io)
  kill $wp; wait $wp 2>/dev/null
  kill -INT $pid; wait $pid 2>/dev/null
  n=$(( (w1 - w0) / ${PER:-2} ))
  f=$(ls "$OUT"/cg-$b.*.1 | head -1); mv "$f" "$OUT"/keep-$b; rm -f "$OUT"/cg-$b.*; mv "$OUT"/keep-$b "${f%.1}"
  ir=$(grep -h "^totals:" "${f%.1}" | awk '{s+=$2} END {printf "%.0f", s}')
  main=$(callgrind_annotate --inclusive=yes --threshold=100 "${f%.1}" 2>/dev/null | grep "node::SpinEventLoopInternal" | awk '{gsub(",","",$1); print $1}' | head -1)
  echo "$b requests $n instructions/request $((ir / n)) main thread $((${main:-0} / n)) other threads $(((ir - ${main:-0}) / n))"
done
