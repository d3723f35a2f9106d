#!/usr/bin/env bash
# bench/run.sh - rerun every performance figure of doc/performance.md
# and print one table. A benchmark, not a test: it asserts nothing.
#
#   bench/run.sh [--build DIR] [--reps N] [--quick] [--no-peers] [--out DIR]
#
# 1. Core: bench/core_fanout under callgrind, instructions per delivery
#    in a 1,000-member room (difference of two runs, so the join storm
#    cancels out), drained after every line and after every 16 lines.
# 2. Peers: ../shared/bench/run-peers.sh runs chatd beside redis in the same
#    run for each room size (10, 100, 1,000 receivers) and message size
#    (64 B, 400 B): server CPU ns per delivery, deliveries/s, p99; then the
#    idle-connection scenario (conns, 10,000 connections, shared and own
#    rooms). Needs: redis-server (apt-get install redis-server).
# 3. A plot of ns per delivery and p99 against room size (gnuplot, if
#    installed) written to OUT/scaling.png.
#
# Compare only figures from one run: the machine is shared and noisy.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=$ROOT/../shared/bench/run-peers.sh
BUILD=$ROOT/build
REPS=3
QUICK=0
PEERS=1
OUT=/tmp/libchat-bench.$(date +%Y%m%d-%H%M%S)

while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --quick) QUICK=1 ;;
    --no-peers) PEERS=0 ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT"

[ -x "$BUILD/server/chatd" ] || { meson setup "$BUILD" "$ROOT" >/dev/null; }
meson compile -C "$BUILD" >/dev/null
CHATD=$BUILD/server/chatd
CORE=$BUILD/bench/core_fanout

# ---- 1. core instructions per delivery ---------------------------------

# Instructions of one core_fanout run (callgrind's total).
core_ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$CORE" \
        --peers 1000 --messages "$1" --batch "$2" 2>&1 |
        awk '/refs:/ {gsub(",", "", $NF); print $NF}'
}

core_per_delivery() {
    local batch=$1 a b
    a=$(core_ir 320 "$batch")
    b=$(core_ir 640 "$batch")
    awk -v a="$a" -v b="$b" 'BEGIN {printf "%.0f", (b - a) / (320 * 1000)}'
}

echo "== core: instructions per delivery, 1,000 peers in one room (callgrind)"
CORE1=$(core_per_delivery 1)
CORE16=$(core_per_delivery 16)
NS16=$("$CORE" --peers 1000 --messages 4000 --batch 16 | sed 's/.*ns_per_delivery=//')
echo "   drained every line: $CORE1   drained every 16 lines: $CORE16   ($NS16 ns/delivery, batch 16)"

[ "$PEERS" = 1 ] || exit 0
[ -x "$HARNESS" ] || { echo "run.sh: no peer harness at $HARNESS" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "run.sh: needs redis-server" >&2; exit 1; }

# ---- 2. chatd beside redis -------------------------------------------------

SIZES="64 400"
ROOMS="10 100 1000"
DURATION=8
if [ "$QUICK" = 1 ]; then SIZES=64; REPS=1; DURATION=4; fi

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# Median of the reps for one peer and config, from run-peers' results.
median_row() {
    local file=$1 proto=$2
    grep "scenario=fanout" "$file" | grep " proto=$proto " |
        awk '{for (i = 1; i <= NF; i++) if ($i ~ /^deliv_per_s=/) {split($i, a, "="); print a[2], $0}}' |
        sort -n | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}' | cut -d' ' -f2-
}

ns_per_delivery() {
    awk -v c="$(field "$1" srv_cpu_s)" -v d="$(field "$1" delivered)" \
        'BEGIN {if (d > 0) printf "%.0f", c * 1e9 / d; else print "-"}'
}

TABLE=$OUT/table.txt
PLOT=$OUT/scaling.dat
: >"$TABLE"
: >"$PLOT"
for size in $SIZES; do
    for r in $ROOMS; do
        dir=$OUT/fanout-R$r-s$size
        echo "== fanout R=$r size=$size ($REPS reps, chatd and redis)"
        "$HARNESS" --chatd "$CHATD" --chatd-args '--rate 0' --peers redis \
            --no-conns -R "$r" --size "$size" --reps "$REPS" \
            --duration "$DURATION" --out "$dir" >"$dir.log" 2>&1 || true
        c=$(median_row "$dir/results.txt" line)
        q=$(median_row "$dir/results.txt" redis)
        [ -n "$c" ] && [ -n "$q" ] || { echo "   (no result: see $dir.log)"; continue; }
        cn=$(ns_per_delivery "$c")
        qn=$(ns_per_delivery "$q")
        ratio=$(awk -v a="$cn" -v b="$qn" 'BEGIN {printf "%.2f", a / b}')
        # chatd logs deliveries per write at exit; the harness keeps its
        # stderr in its newest /tmp/chatbench-chatd.* run directory.
        last=$(ls -td /tmp/chatbench-chatd.*/ 2>/dev/null | head -1)
        writes=$(cat "$last"server.* 2>/dev/null |
                 grep -o '([0-9.]* per write)' | tail -1 | tr -dc '0-9.')
        printf '%5s %4s %8s %8s %6s %11s %11s %8s %8s %5s %5s %6s %8s\n' \
            "$r" "$size" "$cn" "$qn" "$ratio" \
            "$(field "$c" deliv_per_s)" "$(field "$q" deliv_per_s)" \
            "$(field "$c" p99_ms)" "$(field "$q" p99_ms)" \
            "$(field "$c" lost)" "$(field "$q" lost)" \
            "$(field "$c" other_cpu_pct)" "${writes:--}" >>"$TABLE"
        [ "$size" = 64 ] && echo "$r $cn $qn $(field "$c" p99_ms) $(field "$q" p99_ms)" >>"$PLOT"
    done
done

echo "== conns: idle memory per joined connection (C=10000, chatd and redis)"
CONNS=$OUT/conns
"$HARNESS" --chatd "$CHATD" --chatd-args '--rate 0' --peers redis --no-fanout \
    -C 10000 --out "$CONNS" >"$CONNS.log" 2>&1 || true

# ---- 3. the table and the plot ---------------------------------------------

echo
echo "chatd vs redis, same run; $(nproc) cores, $(uname -sr); results in $OUT"
echo "core: $CORE1 instructions/delivery drained every line, $CORE16 every 16 lines"
echo
printf '%5s %4s %8s %8s %6s %11s %11s %8s %8s %5s %5s %6s %8s\n' \
    R size chatd_ns redis_ns ratio chatd_dlv/s redis_dlv/s chatd_p99 redis_p99 \
    lostc lostr other% dlv/write
cat "$TABLE"
echo
echo "idle KiB per joined connection (C=10000):"
grep -E '^\| (chatd|redis) ' "$CONNS.log" | awk -F'|' '{printf "  %-6s shared %s  own %s\n", $2, $13, $14}'

if command -v gnuplot >/dev/null && [ -s "$PLOT" ]; then
    gnuplot <<EOF
set terminal pngcairo size 900,420 font ",10"
set output "$OUT/scaling.png"
set multiplot layout 1,2 title "chatd vs redis-server, fanout, 64-byte messages, 4 senders (same run)"
set logscale x
set xlabel "receivers in the room"
set key top left
set xtics (10, 100, 1000)
set xrange [7:1400]
set ylabel "server CPU ns per delivery"
set yrange [0:*]
plot "$PLOT" using 1:2 with linespoints lw 2 title "chatd", \
     "" using 1:3 with linespoints lw 2 title "redis"
set ylabel "p99 latency (ms)"
plot "$PLOT" using 1:4 with linespoints lw 2 title "chatd", \
     "" using 1:5 with linespoints lw 2 title "redis"
unset multiplot
EOF
    echo "plot: $OUT/scaling.png"
fi
