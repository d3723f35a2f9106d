#!/usr/bin/env bash
# Soak benchmark (issue 4): 1,000 clients in 10 rooms chatting for 5 minutes
# against one chatd, over loopback. A script to run by hand, not a test.
#
#   bench/soak.sh [--duration S] [--clients N] [--rooms K]
#                       [--senders S] [--rate R] [--size B] [--sample S]
#                       [--warmup S] [--build DIR] [--chatd-args 'ARGS']
#
# Builds chatd and chat-bench if needed (meson, in --build, default build/),
# starts chatd on a free port (its defaults: a realistic rate limit of 20
# lines a second, which --rate 1 per sender stays well under), runs
# chat-bench, samples chatd's VmRSS every --sample seconds and prints it,
# then the messages delivered, dropped and lost, and ends with one verdict
# line: memory flat after warm-up, and nothing lost that the server did
# not report as dropped. Exit status 0 for PASS, 1 for FAIL, 2 for usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=300 clients=1000 rooms=10 senders='' rate=1 size=64 sample=10
warmup='' build="$root/build" chatd_args=""

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

while [ $# -gt 0 ]; do
    case "$1" in
    --duration) duration=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --rooms) rooms=$2; shift 2 ;;
    --senders) senders=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --chatd-args) chatd_args=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "soak.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done
for v in duration clients rooms rate size sample; do
    if ! [[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        echo "soak.sh: --$v needs a number, not '${!v}'" >&2
        exit 2
    fi
done
senders=${senders:-$clients}  # everyone chats
# Warm-up: a fifth of the run, at most a minute (the setup and the first
# wave of room history and output buffers are allocated by then).
if [ -z "$warmup" ]; then
    warmup=$(awk -v d="$duration" 'BEGIN { w = d / 5; print int(w > 60 ? 60 : w) }')
fi

# ---- build ----------------------------------------------------------------
chatd="$build/server/chatd"
bench="$build/bench/chat-bench"
if [ ! -x "$chatd" ] || [ ! -x "$bench" ]; then
    echo "soak: building in $build"
    [ -f "$build/build.ninja" ] || meson setup "$build" "$root" >/dev/null
    ninja -C "$build" server/chatd bench/chat-bench >/dev/null
fi

tmp=$(mktemp -d)
chatd_pid='' bench_pid=''
cleanup() {
    # Only the processes this script started, by pid.
    [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
    [ -n "$chatd_pid" ] && kill "$chatd_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- chatd ------------------------------------------------------------------
# shellcheck disable=SC2086 # chatd_args is a list of words
"$chatd" -b 127.0.0.1 -p 0 $chatd_args 2>"$tmp/chatd.log" &
chatd_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$tmp/chatd.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$chatd_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "soak: chatd did not start:" >&2
    cat "$tmp/chatd.log" >&2
    exit 1
fi

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$chatd_pid/status" 2>/dev/null || echo 0
}
cpu_s() { # chatd's user + system time, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' \
        "/proc/$chatd_pid/stat"
}

echo "soak: chatd (pid $chatd_pid) on 127.0.0.1 port $port, args: ${chatd_args:-(defaults)}"
echo "soak: $clients clients in $rooms rooms, $senders sending $rate msg/s each," \
     "$size-byte messages, for $duration s (warm-up $warmup s)"
rss0=$(rss_kib)
cpu0=$(cpu_s)
echo "soak: chatd VmRSS before any client: $rss0 KiB"

# ---- the run ------------------------------------------------------------------
"$bench" -p "$port" --clients "$clients" --rooms "$rooms" --senders "$senders" \
    --rate "$rate" --size "$size" --duration "$duration" --json \
    >"$tmp/report.json" 2>"$tmp/bench.err" &
bench_pid=$!
start=$(date +%s)
: >"$tmp/rss"
printf '%8s  %12s\n' "time" "chatd VmRSS"
next=$sample
while kill -0 "$bench_pid" 2>/dev/null; do
    sleep 1
    now=$(( $(date +%s) - start ))
    if awk -v n="$now" -v t="$next" 'BEGIN { exit !(n >= t) }'; then
        rss=$(rss_kib)
        echo "$now $rss" >>"$tmp/rss"
        printf '%6s s  %8s KiB\n' "$now" "$rss"
        next=$(awk -v t="$next" -v s="$sample" 'BEGIN { print t + s }')
    fi
done
set +e
wait "$bench_pid"
bench_rc=$?
set -e
bench_pid=
cpu1=$(cpu_s)
sleep 1
echo "soak: chatd VmRSS after the clients left: $(rss_kib) KiB"

kill -TERM "$chatd_pid"
set +e
wait "$chatd_pid"
chatd_rc=$?
set -e
chatd_pid=

if [ "$bench_rc" -ne 0 ] || [ ! -s "$tmp/report.json" ]; then
    cat "$tmp/bench.err" >&2
    echo "verdict: FAIL (chat-bench exited $bench_rc)"
    exit 1
fi

# ---- figures and verdict --------------------------------------------------------
python3 - "$tmp/report.json" "$tmp/rss" "$warmup" "$cpu0" "$cpu1" "$chatd_rc" <<'EOF'
import json, sys

r = json.load(open(sys.argv[1]))
samples = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
warmup, cpu0, cpu1, chatd_rc = float(sys.argv[3]), float(sys.argv[4]), \
    float(sys.argv[5]), int(sys.argv[6])
lat = r["latency_us"]
deliv = r["deliveries"] + r["echoes"]
print("messages   %d sent, %d accepted, %d refused by the rate limit"
      % (r["sent"], r["accepted"], r["refused"]))
print("delivered  %d of %d due to other members, %d of %d echoes: %.0f/s"
      % (r["deliveries"], r["expected_deliveries"], r["echoes"],
         r["expected_echoes"], r["deliveries_per_s"]))
print("dropped    %d (reported by the server)" % r["dropped"])
print("lost       %d (due - received - dropped); reordered %d, duplicates %d"
      % (r["lost"], r["reordered"], r["duplicates"]))
print("latency    p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms"
      % (lat["p50"] / 1e3, lat["p99"] / 1e3, lat["p999"] / 1e3,
         lat["max"] / 1e3))
busy = cpu1 - cpu0
print("cpu        chatd %.1f s (%.0f ns per delivery), chat-bench %.1f s"
      % (busy, busy * 1e9 / deliv if deliv else 0,
         r["cpu_user_s"] + r["cpu_sys_s"]))

reasons = []
after = [(t, kib) for t, kib in samples if t >= warmup]
if len(after) >= 2:
    base = after[0][1]
    top = max(kib for _, kib in after)
    # Flat: within 10% (or 2 MiB) of the first sample after warm-up.
    allowed = max(base // 10, 2048)
    flat = top - base <= allowed
    mem = "RSS %s after warm-up (%d KiB at %d s, at most %d KiB after, %+d KiB)" \
        % ("flat" if flat else "GREW", base, after[0][0], top, top - base)
    if not flat:
        reasons.append("memory grew")
else:
    mem = "too short to judge memory (fewer than 2 samples after warm-up)"
    reasons.append("run too short")
loss = "%d lost beyond %d reported dropped" % (r["lost"], r["dropped"])
if r["lost"] or r["stalled"] or r["error"]:
    reasons.append("messages lost")
if chatd_rc != 0:
    reasons.append("chatd exited %d on SIGTERM" % chatd_rc)
print("verdict: %s: %s; %s" % ("FAIL (" + ", ".join(reasons) + ")"
                               if reasons else "PASS", mem, loss))
sys.exit(1 if reasons else 0)
EOF
