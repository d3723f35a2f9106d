#!/usr/bin/env bash
# bench/transports.sh - chatd over TCP, WebSocket, TLS and wss beside
# redis-server (plain and TLS) and Socket.IO 4.8, with the team's peer
# generator (../shared/bench: chatbench), reps INTERLEAVED so that pairs
# compare on a busy machine. A benchmark, not a test: it asserts nothing.
#
#   bench/transports.sh [--build DIR] [--harness DIR] [--reps N] [--duration S]
#                       [--targets LIST] [--conns N] [--conns-targets LIST]
#                       [--chatd-args ARGS] [--out DIR]
#   bench/transports.sh --table-only --out DIR   # the fan-out tables of a past run
#
# Targets (each its own server process, all started once, on free loopback
# ports, stopped by pid at the end):
#   chatd      chatd --listen tcp://     (chatbench --proto line)
#   chatd-ws   chatd --listen http://    (--proto ws, /ws)
#   chatd-tls  chatd --listen tls://     (--proto line --tls)
#   chatd-wss  chatd --listen https://   (--proto ws --tls)
#   redis      redis-server, the harness's peers/redis.conf  (--proto redis)
#   redis-tls  the same with --port 0 --tls-port P            (--proto redis --tls)
#   socketio   node peers/socketio-server.js, one node        (--proto socketio)
# chatd runs with --chatd-args (default --rate 0; a chatd older than
# f40befe/dfbae95 needs '--rate 0 --http-timeout 3600 --tls-handshake-timeout
# 3600', or its ws/tls users are cut 5 s after their last input). TLS
# targets use a throwaway CA and a certificate for IP 127.0.0.1 made here;
# the generator verifies both.
#
# 1. Fan-out: R=100 receivers and 4 senders in one room, window 16, 64 B,
#    --duration s per run. Each rep runs every target once, the order
#    rotated from rep to rep; the table gives each target's median and,
#    for each pair (chatd-ws/chatd, chatd-tls/redis-tls, ...), the median
#    and range of the ratios taken rep by rep (neighbouring runs, so the
#    same background load, more or less).
# 2. Idle connections (--conns N, default 10,000; 0 skips): a fresh server
#    per target, N connections join one shared room and go quiet; the
#    server's VmRSS growth per connection (chatbench --scenario conns).
#
# Every run reports how much CPU other processes took (other%): the machine
# is shared. Another server's leftovers count there too: at 9a6e6f9 chatd
# spins on tls:// connections whose client left with output queued, for
# --write-timeout (doc/performance.md, TLS). Needs the harness's build deps (libevent-dev libssl-dev
# pkg-config), redis-server, openssl, and for socketio node with
# socket.io@~4.8 in /tmp/chatbench-node (run-peers.sh --peers socketio
# installs it; see ../shared/bench/README.md).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
HARNESS=$(cd "$ROOT/.." && pwd)/shared/bench
REPS=5 DURATION=8 CONNS=10000
TARGETS="chatd chatd-ws socketio chatd-tls redis-tls chatd-wss redis"
CONNS_TARGETS="chatd chatd-ws chatd-tls redis-tls"
NODE_DIR=/tmp/chatbench-node
CHATD_ARGS="--rate 0"
OUT=/tmp/libchat-transports.$(date +%Y%m%d-%H%M%S)
TABLE_ONLY=0

while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift ;;
    --harness) HARNESS=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --targets) TARGETS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --conns-targets) CONNS_TARGETS=$2; shift ;;
    --chatd-args) CHATD_ARGS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --table-only) TABLE_ONLY=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "transports.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT" || exit 1
log() { echo "== $*" >&2; }

. "$ROOT/bench/common.sh" # free_port, listening, field, ns_dlv, median
range() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR) print lo "-" hi}'; }

fanout_tables() { # the tables of $OUT/fanout.txt
    local RES=$OUT/fanout.txt p a b t TL
    read -r -a TL <<<"$TARGETS"
    col() { # TARGET KEY: one value per rep ("ns" for ns per delivery)
        grep "^$1 " "$RES" | while read -r _ _ r; do
            if [ "$2" = ns ]; then ns_dlv "$r"; else field "$r" "$2"; fi
        done
    }
    echo
    echo "Fan-out R=100 S=4 W=16, 64 B, ${DURATION} s runs, $REPS reps interleaved; $(nproc) cores," \
        "$(uname -sr); $CHATD $CHATD_ARGS; results in $OUT"
    echo
    echo "| target | deliveries/s | p50 ms | p99 ms | lost | server ns/dlv (range) | server CPU % | other CPU % (range) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for t in "${TL[@]}"; do
        printf '| %s | %s M | %s | %s | %s | %s (%s) | %s | %s (%s) |\n' "$t" \
            "$(col "$t" deliv_per_s | median | awk '{printf "%.2f", $1 / 1e6}')" \
            "$(col "$t" p50_ms | median)" "$(col "$t" p99_ms | median)" \
            "$(col "$t" lost | awk '{s += $1} END {print s + 0}')" \
            "$(col "$t" ns | median)" "$(col "$t" ns | range)" \
            "$(col "$t" srv_cpu_pct | median)" \
            "$(col "$t" other_cpu_pct | median)" "$(col "$t" other_cpu_pct | range)"
    done

    # Ratios rep by rep: A's figure over B's from the same rep.
    pair() { # A B KEY
        local rep a b
        for rep in $(seq "$REPS"); do
            a=$(grep "^$1 $rep " "$RES" | cut -d' ' -f3-)
            b=$(grep "^$2 $rep " "$RES" | cut -d' ' -f3-)
            [ -n "$a" ] && [ -n "$b" ] || continue
            if [ "$3" = ns ]; then
                awk -v a="$(ns_dlv "$a")" -v b="$(ns_dlv "$b")" 'BEGIN {printf "%.2f\n", a / b}'
            else
                awk -v a="$(field "$a" "$3")" -v b="$(field "$b" "$3")" 'BEGIN {printf "%.2f\n", a / b}'
            fi
        done
    }
    echo
    echo "Ratios rep by rep (median, range over the reps where both ran):"
    echo
    echo "| A / B | server ns/dlv | p99 | deliveries/s |"
    echo "|---|---:|---:|---:|"
    for p in chatd-ws/chatd chatd-tls/redis-tls chatd-tls/chatd chatd-wss/chatd-ws \
             socketio/chatd-ws redis-tls/redis chatd/redis; do
        a=${p%/*} b=${p#*/}
        grep -q "^$a " "$RES" && grep -q "^$b " "$RES" || continue
        printf '| %s | %s (%s) | %s (%s) | %s (%s) |\n' "$p" \
            "$(pair "$a" "$b" ns | median)" "$(pair "$a" "$b" ns | range)" \
            "$(pair "$a" "$b" p99_ms | median)" "$(pair "$a" "$b" p99_ms | range)" \
            "$(pair "$a" "$b" deliv_per_s | median)" "$(pair "$a" "$b" deliv_per_s | range)"
    done
}

if [ "$TABLE_ONLY" = 1 ]; then
    # shellcheck disable=SC1091 # written by the run
    . "$OUT/params" || exit 1
    fanout_tables
    exit 0
fi


CHATD=$BUILD/server/chatd
[ -x "$CHATD" ] || { echo "transports.sh: no $CHATD (meson compile -C $BUILD)" >&2; exit 1; }
# The generator, built outside the harness's folder as run-peers.sh does.
GENDIR=$OUT/gen
mkdir -p "$GENDIR" && cp "$HARNESS"/*.c "$HARNESS"/*.h "$HARNESS"/Makefile "$GENDIR"/ &&
    make -s -C "$GENDIR" chatbench >/dev/null ||
    { echo "transports.sh: cannot build $HARNESS's chatbench" >&2; exit 1; }
GEN=$GENDIR/chatbench

# A throwaway CA and a server certificate for IP 127.0.0.1, as run-peers.sh.
TLS=$OUT/tls
mkdir -p "$TLS" && chmod 700 "$TLS"
{
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
        'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1' >"$TLS/server.ext" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=transports.sh throwaway CA" -keyout "$TLS/ca.key" -out "$TLS/ca.crt" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$TLS/server.key" -out "$TLS/server.csr" &&
    openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" \
        -CAcreateserial -days 2 -extfile "$TLS/server.ext" -out "$TLS/server.crt"
} >"$TLS/openssl.log" 2>&1 || { echo "transports.sh: openssl failed ($TLS/openssl.log)" >&2; exit 1; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null

declare -A PID PORT
PIDS=()
stop_pid() {
    local pid=$1 i=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
stop_all() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM


# start TARGET LOGDIR: the server, its pid and port in PID[TARGET], PORT[TARGET].
start() {
    local t=$1 dir=$2 port pid i url
    mkdir -p "$dir"
    case $t in
    chatd*)
        local tls=()
        case $t in
        chatd) url=tcp ;; chatd-ws) url=http ;; chatd-tls) url=tls ;; chatd-wss) url=https ;;
        esac
        case $t in chatd-tls|chatd-wss)
            tls=(--tls-cert "$TLS/server.crt" --tls-key "$TLS/server.key") ;;
        esac
        # shellcheck disable=SC2086 # CHATD_ARGS is a word list
        "$CHATD" --listen "$url://127.0.0.1:0" $CHATD_ARGS "${tls[@]}" \
            >"$dir/chatd.out" 2>"$dir/chatd.log" &
        pid=$!
        for i in $(seq 100); do
            port=$(sed -nE 's/.*listening on ([a-z]+:\/\/)?127\.0\.0\.1:([0-9]+).*/\2/p' "$dir/chatd.log" | head -n 1)
            [ -n "$port" ] && break
            sleep 0.1
        done ;;
    redis|redis-tls)
        port=$(free_port)
        if [ "$t" = redis ]; then
            redis-server "$HARNESS/peers/redis.conf" --port "$port" --dir "$dir" >"$dir/redis.log" 2>&1 &
        else
            redis-server "$HARNESS/peers/redis.conf" --port 0 --tls-port "$port" \
                --tls-cert-file "$TLS/server.crt" --tls-key-file "$TLS/server.key" \
                --tls-ca-cert-file "$TLS/ca.crt" --tls-auth-clients no --dir "$dir" \
                >"$dir/redis.log" 2>&1 &
        fi
        pid=$! ;;
    socketio)
        port=$(free_port)
        NODE_PATH=$NODE_DIR/node_modules node "$HARNESS/peers/socketio-server.js" \
            --host 127.0.0.1 --port "$port" --max-seconds 7200 >"$dir/node.log" 2>&1 &
        pid=$! ;;
    *) echo "transports.sh: unknown target $t" >&2; return 1 ;;
    esac
    PIDS+=("$pid")
    for i in $(seq 200); do
        [ -n "${port:-}" ] && listening "$port" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "${port:-}" ] || ! listening "$port"; then
        echo "transports.sh: $t did not start (see $dir)" >&2
        return 1
    fi
    PID[$t]=$pid PORT[$t]=$port
}

gen_args() { # TARGET: protocol and TLS words for chatbench
    case $1 in
    chatd) echo --proto line ;;
    chatd-ws) echo --proto ws ;;
    chatd-tls) echo --proto line --tls --tls-ca "$TLS/ca.crt" ;;
    chatd-wss) echo --proto ws --tls --tls-ca "$TLS/ca.crt" ;;
    redis) echo --proto redis ;;
    redis-tls) echo --proto redis --tls --tls-ca "$TLS/ca.crt" ;;
    socketio) echo --proto socketio ;;
    esac
}

# ---- 1. fan-out, interleaved ---------------------------------------------

read -r -a TL <<<"$TARGETS"
for t in "${TL[@]}"; do start "$t" "$OUT/srv-$t" || exit 1; done
log "fan-out: ${TL[*]}; $REPS reps of ${DURATION} s, interleaved (order rotated each rep)"
RES=$OUT/fanout.txt
: >"$RES"
printf 'TARGETS=%q\nREPS=%q\nDURATION=%q\nCHATD=%q\nCHATD_ARGS=%q\n' \
    "$TARGETS" "$REPS" "$DURATION" "$CHATD" "$CHATD_ARGS" >"$OUT/params"
n=${#TL[@]}
for rep in $(seq "$REPS"); do
    for k in $(seq 0 $((n - 1))); do
        t=${TL[$(((k + rep - 1) % n))]}
        # shellcheck disable=SC2046 # gen_args is a word list
        timeout 200 "$GEN" $(gen_args "$t") --port "${PORT[$t]}" --pid "${PID[$t]}" \
            --scenario fanout -R 100 -S 4 -M 1000000 -W 16 --size 64 \
            --duration "$DURATION" --label "$t-r$rep" --time-limit 150 \
            >"$OUT/$t-r$rep.out" 2>"$OUT/$t-r$rep.err"
        r=$(grep '^RESULT' "$OUT/$t-r$rep.out" | tail -n 1)
        if [ -z "$r" ]; then
            log "$t rep $rep: no result ($(head -c 300 "$OUT/$t-r$rep.err"))"
            continue
        fi
        echo "$t $rep $r" >>"$RES"
        printf '   rep %s %-9s %8s dlv/s  p99 %6s ms  lost %s  srv %5s ns/dlv  other %s%%\n' \
            "$rep" "$t" "$(field "$r" deliv_per_s)" "$(field "$r" p99_ms)" \
            "$(field "$r" lost)" "$(ns_dlv "$r")" "$(field "$r" other_cpu_pct)" >&2
    done
done
for t in "${TL[@]}"; do kill -0 "${PID[$t]}" 2>/dev/null || log "$t (pid ${PID[$t]}) died"; done
stop_all

fanout_tables

# ---- 2. idle connections ---------------------------------------------------

[ "$CONNS" -gt 0 ] || exit 0
echo
echo "Idle connections: C=$CONNS join one shared room and go quiet; server VmRSS growth per connection"
echo
echo "| target | joined | KiB per connection | RSS before → after (KiB) | peak (VmHWM, KiB) | setup s |"
echo "|---|---:|---:|---:|---:|---:|"
for t in $CONNS_TARGETS; do
    start "$t" "$OUT/conns-$t" || continue
    # shellcheck disable=SC2046 # gen_args is a word list
    timeout 400 "$GEN" $(gen_args "$t") --port "${PORT[$t]}" --pid "${PID[$t]}" \
        --scenario conns -C "$CONNS" --concurrency 200 --conns-room shared --settle 2 \
        --label "$t-conns" --time-limit 350 --setup-timeout 330 \
        >"$OUT/$t-conns.out" 2>"$OUT/$t-conns.err"
    r=$(grep '^RESULT' "$OUT/$t-conns.out" | tail -n 1)
    stop_all
    printf '| %s | %s | %s | %s → %s | %s | %s |\n' "$t" "$(field "$r" joined)" \
        "$(field "$r" kib_per_conn)" "$(field "$r" rss_before_kib)" \
        "$(field "$r" rss_after_kib)" "$(field "$r" hwm_kib)" "$(field "$r" setup_s)"
done
