#!/usr/bin/env bash
# bench/cluster.sh - several chatd nodes sharing one chat through one
# redis-server (issue 13, doc/cluster.md) beside one plain chatd and
# Socket.IO 4.8's cluster (its Redis adapter), with the team's peer
# generator (../shared/bench: chatbench), reps INTERLEAVED so that every
# ratio is taken between neighbouring runs. A benchmark, not a test: it
# asserts nothing.
#
#   bench/cluster.sh [--build DIR] [--harness DIR] [--reps N] [--duration S]
#                    [--configs LIST] [--chatd-args ARGS] [--cluster-args ARGS]
#                    [--node-dir DIR] [--out DIR]
#   bench/cluster.sh --table-only --out DIR      # the tables of a past run
#
# Servers, all started once on loopback (chatd picks its own port, the
# others get a free one), stopped by pid at the end, nodes before redis:
#   - one redis-server (--save '' --appendonly no) for every chatd cluster;
#   - for each cluster size K in the configs, K chatd nodes
#     (--rate 0 --redis redis://127.0.0.1:RP --node-id cK-n1.. --redis-prefix
#     cK:, then --cluster-args; also --listen http://127.0.0.1:0 for its
#     /metrics): each cluster has its own prefix, so the clusters share the
#     redis-server but not a chat;
#   - one plain chatd (--rate 0, no --redis): the baseline, "one chatd node";
#   - for sioK, a redis-server of its own and K node processes of
#     peers/socketio-server.js with --redis (as run-peers.sh's
#     socketio-cluster; npm packages in --node-dir, never in the repository).
# Every chatd also gets --chatd-args (default --rate 0).
#
# Configs (--configs; default "chatd c1 c2 c3 c3-spread sio3 chatd-r10 c1-r10
# c3-r10"): chatd = the plain chatd; cK = the K-node cluster; sioK = Socket.IO
# with K nodes; -spread = senders round-robin over the nodes (chatbench
# --spread-senders), otherwise all 4 on the first node; -rN = N receivers
# instead of 100. Receivers always round-robin over the nodes (--ports).
#
# Each run: chatbench fanout, R receivers + 4 senders in one room, window 16,
# 64 B, -M 1000000, --duration S (the chatd-vs-redis fan-out of
# doc/performance.md), with --pid for every node AND the cluster's
# redis-server, so server CPU is the whole cluster's. Around each run,
# redis-cli INFO stats and INFO commandstats of that cluster's redis-server
# (the "after" once its EVALSHA/PUBLISH counts stop moving: chatd may still
# have lines queued toward it): commands processed (those run inside scripts
# included), bytes in and out, EVALSHA and PUBLISH calls, each divided by the
# lines sent; and the nodes' chatd_cluster_* counters (lines dropped toward
# Redis or unsent, messages applied from Redis). The other
# clusters on the same redis-server are idle meanwhile (a heartbeat per node
# every lease/3), and the deltas include the run's 104 joins and leaves
# (~10 commands each): both well under 0.01 per line at ~10^5 lines a run.
#
# Tables: medians over the reps; "ratio" is srv ns/dlv over the plain chatd's
# with the same R in the same rep (median and range of the per-rep ratios);
# lost, reord/dup (chatbench counts a duplicate and a line older than one
# already seen together), gaps are summed over the reps. Then where the server
# CPU went: the first node (where the senders are), the other nodes, redis.
#
# Needs: the harness's build deps (libevent-dev libssl-dev pkg-config),
# redis-server and redis-cli, python3; node and npm for sioK.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
HARNESS=$(cd "$ROOT/.." && pwd)/shared/bench
REPS=5 DURATION=8
CONFIGS="chatd c1 c2 c3 c3-spread sio3 chatd-r10 c1-r10 c3-r10"
CHATD_ARGS="--rate 0"
CLUSTER_ARGS=""
NODE_DIR=/tmp/chatbench-node
NODE_PKGS="socket.io@~4.8 @socket.io/redis-adapter@~8.3 redis@^4.7"
OUT=/tmp/libchat-cluster.$(date +%Y%m%d-%H%M%S)
TABLE_ONLY=0

while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift ;;
    --harness) HARNESS=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --configs) CONFIGS=$2; shift ;;
    --chatd-args) CHATD_ARGS=$2; shift ;;
    --cluster-args) CLUSTER_ARGS=$2; shift ;;
    --node-dir) NODE_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    --table-only) TABLE_ONLY=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT" || exit 1
RES=$OUT/fanout.txt
log() { echo "== $*" >&2; }

# ---- configs ---------------------------------------------------------------

# parse CONFIG: sets KIND (chatd|cluster|sio), K (nodes), R, SPREAD.
parse() {
    local c=$1
    KIND="" K=1 R=100 SPREAD=0
    case $c in *-r[0-9]*) R=${c##*-r}; c=${c%-r*} ;; esac
    case $c in *-spread) SPREAD=1; c=${c%-spread} ;; esac
    case $c in
    chatd) KIND=chatd ;;
    c[0-9]*) KIND=cluster K=${c#c} ;;
    sio[0-9]*) KIND=sio K=${c#sio} ;;
    esac
    case "$KIND:$K:$R" in
    :*|*:*[!0-9]*:*|*:*:*[!0-9]*|*:0:*|*:*:0) return 1 ;;
    esac
    return 0
}
for c in $CONFIGS; do
    parse "$c" || { echo "cluster.sh: bad config '$c' (chatd, cK, sioK, -spread, -rN)" >&2; exit 2; }
done

# ---- the tables --------------------------------------------------------------

. "$ROOT/bench/common.sh" # free_port, listening, field, div, ns_dlv, median
whole() { awk '$1 == "-" {print; next} {printf "%.0f\n", $1}'; }
span() { grep -v '^-$' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print NR ? lo "-" hi : "-"}'; }

tables() {
    local c base b r
    # vals CONFIG KEY: one value per rep (ns = srv ns/dlv, ratio = over the
    # baseline's of the same rep, node1/nodes/redis = that part's ns/dlv).
    vals() {
        grep "^$1 " "$RES" | while read -r _ rep line; do
            case $2 in
            ns) ns_dlv "$line" ;;
            ratio)
                b=$(grep "^$base $rep " "$RES" | cut -d' ' -f3-)
                if [ -n "$b" ]; then div "$(ns_dlv "$line")" "$(ns_dlv "$b")" %.2f; else echo -; fi ;;
            node1|nodes|redis)
                div "$(field "$line" "cpu_$2")e9" "$(field "$line" delivered)" ;;
            cmds|in|out|evalsha|publish)
                div "$(field "$line" "redis_$2")" "$(field "$line" sent)" %.2f ;;
            cl_in) div "$(field "$line" cl_in)" "$(field "$line" sent)" %.2f ;;
            cl_lost) # events dropped toward redis and unsent while its link was down
                [ -n "$(field "$line" cl_dropped)" ] &&
                    echo $(($(field "$line" cl_dropped) + $(field "$line" cl_unsent))) ;;
            *) field "$line" "$2" ;;
            esac
        done
    }
    sum() { vals "$1" "$2" | awk '{s += $1} END {print s + 0}'; }
    echo
    echo "Fan-out, 4 senders, window 16, 64 B, ${DURATION} s runs, $REPS reps interleaved;" \
        "$(nproc) cores, $(uname -sr); $CHATD $CHATD_ARGS${CLUSTER_ARGS:+ (nodes: $CLUSTER_ARGS)};" \
        "results in $OUT"
    echo
    echo "| config | nodes | R | senders | deliveries/s | p50 ms | p99 ms | srv ns/dlv (range) | ratio to chatd (range) | lost | reord/dup | gaps | redis cmds/line | redis B/line in / out | other CPU % |"
    echo "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in $CONFIGS; do
        grep -q "^$c " "$RES" || continue
        parse "$c"
        base=chatd
        [ "$R" != 100 ] && base=chatd-r$R
        r="-"
        [ "$c" != "$base" ] && r="$(vals "$c" ratio | median) ($(vals "$c" ratio | span))"
        printf '| %s | %s | %s | %s | %s M | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s / %s | %s |\n' \
            "$c" "$([ "$KIND" = chatd ] && echo "1, no redis" || echo "$K + redis")" "$R" \
            "$([ "$SPREAD" = 1 ] && echo "spread" || echo "first node")" \
            "$(vals "$c" deliv_per_s | median | awk '{printf "%.2f", $1 / 1e6}')" \
            "$(vals "$c" p50_ms | median)" "$(vals "$c" p99_ms | median)" \
            "$(vals "$c" ns | median)" "$(vals "$c" ns | span)" "$r" \
            "$(sum "$c" lost)" "$(sum "$c" reordered)" "$(sum "$c" gaps)" \
            "$(vals "$c" cmds | median)" "$(vals "$c" in | median | whole)" \
            "$(vals "$c" out | median | whole)" "$(vals "$c" other_cpu_pct | median)"
    done
    echo
    echo "Where the server CPU went, ns per delivery (medians): the first node (all senders unless"
    echo "spread), the other nodes together, redis-server. Per line sent (medians): Redis calls"
    echo "(counted once every queued line had reached redis-server), and messages from Redis applied"
    echo "by the nodes (chatd_cluster_messages_in_total). Summed over the reps: lines chatd did not"
    echo "send to Redis (chatd_cluster_events_dropped_total + chatd_cluster_unsent_total)."
    echo
    echo "| config | first node | other nodes | redis | EVALSHA/line | PUBLISH/line | cmds/line | applied by nodes/line | not sent to redis |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in $CONFIGS; do
        grep -q "^$c " "$RES" || continue
        parse "$c"
        [ "$KIND" = chatd ] && continue
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" \
            "$(vals "$c" node1 | median)" "$(vals "$c" nodes | median)" "$(vals "$c" redis | median)" \
            "$(vals "$c" evalsha | median)" "$(vals "$c" publish | median)" "$(vals "$c" cmds | median)" \
            "$(vals "$c" cl_in | median)" \
            "$(if [ "$KIND" = cluster ]; then sum "$c" cl_lost; else echo -; fi)"
    done
}

if [ "$TABLE_ONLY" = 1 ]; then
    # shellcheck disable=SC1091 # written by the run
    . "$OUT/params" || exit 1
    tables
    exit 0
fi

CHATD=$BUILD/server/chatd
[ -x "$CHATD" ] || { echo "cluster.sh: no $CHATD (meson compile -C $BUILD)" >&2; exit 1; }
for t in redis-server redis-cli python3; do
    command -v "$t" >/dev/null || { echo "cluster.sh: needs $t" >&2; exit 1; }
done
# The generator, built outside the harness's folder as run-peers.sh does.
GENDIR=$OUT/gen
mkdir -p "$GENDIR" && cp "$HARNESS"/*.c "$HARNESS"/*.h "$HARNESS"/Makefile "$GENDIR"/ &&
    make -s -C "$GENDIR" chatbench >/dev/null ||
    { echo "cluster.sh: cannot build $HARNESS's chatbench" >&2; exit 1; }
GEN=$GENDIR/chatbench
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ---- servers -----------------------------------------------------------------

# Every pid started here, in order; stopped last first (nodes before their redis).
PIDS=()
stop_all() {
    local i pid n
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[$i]} n=0
        kill -TERM "$pid" 2>/dev/null || continue
        while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    PIDS=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM


# wait_for PID SECONDS TEST...: until TEST succeeds; fails if PID dies first.
wait_for() {
    local pid=$1 n=$(($2 * 10))
    shift 2
    while [ $n -gt 0 ]; do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# redis DIR: a redis-server on a free port; sets RPID, RPORT.
redis() {
    mkdir -p "$1"
    RPORT=$(free_port)
    redis-server --port "$RPORT" --bind 127.0.0.1 --protected-mode no --save '' \
        --appendonly no --daemonize no --logfile '' --dir "$1" >"$1/redis.log" 2>&1 &
    RPID=$!
    PIDS+=("$RPID")
    wait_for "$RPID" 10 listening "$RPORT" ||
        { echo "cluster.sh: redis-server did not start (see $1)" >&2; return 1; }
}

# chatd LOG ARGS...: one chatd on ports of its choosing; sets CPID, CPORT
# (tcp://) and, for a cluster node, HPORT (http://, its /metrics). A node is
# ready once its Redis link is up.
chatd_ports() {
    CPORT=$(sed -nE 's/.*listening on (tcp:\/\/)?127\.0\.0\.1:([0-9]+)$/\2/p' "$1" 2>/dev/null | head -n 1)
    HPORT=$(sed -nE 's/.*listening on http:\/\/127\.0\.0\.1:([0-9]+)$/\1/p' "$1" 2>/dev/null | head -n 1)
    [ -n "$CPORT" ] && { [ "$2" = 0 ] || [ -n "$HPORT" ]; }
}
chatd() {
    local log=$1 node=0 up=(true) http=()
    shift
    case " $* " in *" --redis "*)
        node=1 up=(grep -q "link up" "$log") http=(--listen http://127.0.0.1:0) ;;
    esac
    mkdir -p "$(dirname "$log")"
    # shellcheck disable=SC2086 # CHATD_ARGS is a word list
    "$CHATD" --listen tcp://127.0.0.1:0 "${http[@]}" $CHATD_ARGS "$@" \
        >"${log%.log}.out" 2>"$log" &
    CPID=$!
    PIDS+=("$CPID")
    wait_for "$CPID" 15 chatd_ports "$log" "$node" && wait_for "$CPID" 15 "${up[@]}" ||
        { echo "cluster.sh: chatd did not start (see $log)" >&2; return 1; }
}

ensure_node() {
    [ -f "$NODE_DIR/node_modules/@socket.io/redis-adapter/package.json" ] &&
        [ -f "$NODE_DIR/node_modules/socket.io/package.json" ] &&
        [ -f "$NODE_DIR/node_modules/redis/package.json" ] && return 0
    command -v npm >/dev/null || { echo "cluster.sh: sioK needs node and npm" >&2; return 1; }
    log "npm install --prefix $NODE_DIR $NODE_PKGS"
    # shellcheck disable=SC2086 # NODE_PKGS is a word list
    mkdir -p "$NODE_DIR" && timeout 300 npm install --prefix "$NODE_DIR" --no-audit --no-fund \
        --loglevel=error $NODE_PKGS >"$OUT/npm-install.log" 2>&1
}

# Per cluster (key c<K> or sio<K>): its ports (comma list), node pids, redis.
declare -A PORTS NPIDS REDIS_PID REDIS_PORT HPORTS
start_chatd_cluster() { # K
    local k=$1 n dir=$OUT/srv-c$1 ports="" pids="" hports=""
    for n in $(seq "$k"); do
        # shellcheck disable=SC2086 # CLUSTER_ARGS is a word list
        chatd "$dir/node$n.log" --redis "redis://127.0.0.1:$CLUSTER_RPORT" --node-id "c$k-n$n" \
            --redis-prefix "c$k:" $CLUSTER_ARGS || return 1
        ports+=${ports:+,}$CPORT pids+=${pids:+ }$CPID hports+=${hports:+ }$HPORT
    done
    PORTS[c$k]=$ports NPIDS[c$k]=$pids HPORTS[c$k]=$hports REDIS_PID[c$k]=$CLUSTER_RPID REDIS_PORT[c$k]=$CLUSTER_RPORT
}
start_sio_cluster() { # K
    local k=$1 n dir=$OUT/srv-sio$1 port ports="" pids=""
    ensure_node || return 1
    redis "$dir" || return 1
    for n in $(seq "$k"); do
        port=$(free_port)
        NODE_PATH=$NODE_DIR/node_modules node "$HARNESS/peers/socketio-server.js" --host 127.0.0.1 \
            --port "$port" --redis "redis://127.0.0.1:$RPORT" --max-seconds 7200 \
            >"$dir/node$n.log" 2>&1 &
        PIDS+=($!)
        wait_for $! 20 listening "$port" ||
            { echo "cluster.sh: socket.io node $n did not start (see $dir)" >&2; return 1; }
        ports+=${ports:+,}$port pids+=${pids:+ }$!
    done
    PORTS[sio$k]=$ports NPIDS[sio$k]=$pids REDIS_PID[sio$k]=$RPID REDIS_PORT[sio$k]=$RPORT
}

# The one redis-server of every chatd cluster, the plain chatd, the clusters.
log "servers: $CHATD $CHATD_ARGS; configs: $CONFIGS"
CLUSTER_RPID="" CLUSTER_RPORT=""
for c in $CONFIGS; do
    parse "$c"
    case $KIND in
    chatd)
        [ -n "${PORTS[chatd]:-}" ] && continue
        chatd "$OUT/srv-chatd/chatd.log" || exit 1
        PORTS[chatd]=$CPORT NPIDS[chatd]=$CPID ;;
    cluster)
        [ -n "${PORTS[c$K]:-}" ] && continue
        if [ -z "$CLUSTER_RPID" ]; then
            redis "$OUT/srv-redis" || exit 1
            CLUSTER_RPID=$RPID CLUSTER_RPORT=$RPORT
        fi
        start_chatd_cluster "$K" || exit 1 ;;
    sio)
        [ -n "${PORTS[sio$K]:-}" ] && continue
        start_sio_cluster "$K" || exit 1 ;;
    esac
done

# ---- fan-out, interleaved ------------------------------------------------------

# rstats PORT: "commands bytes-in bytes-out evalsha-calls publish-calls" so far.
rstats() {
    { redis-cli -p "$1" INFO stats; redis-cli -p "$1" INFO commandstats; } 2>/dev/null |
        tr -d '\r' | awk -F'[:,=]' '
        BEGIN {c = i = o = e = p = 0} # kept as strings: awk prints 2^31 and up as 2.4e+09
        $1 == "total_commands_processed" {c = $2}
        $1 == "total_net_input_bytes" {i = $2}
        $1 == "total_net_output_bytes" {o = $2}
        $1 == "cmdstat_evalsha" {e = $3}
        $1 == "cmdstat_publish" {p = $3}
        END {print c, i, o, e, p}'
}

# settle PORT: until the lines still queued toward redis-server have reached
# it (its EVALSHA and PUBLISH counts unchanged for 0.6 s; 15 s at most).
settle() {
    local last="" now same=0 n=150
    while [ $n -gt 0 ] && [ $same -lt 3 ]; do
        now=$(rstats "$1" | cut -d' ' -f4-)
        if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; fi
        last=$now
        sleep 0.2
        n=$((n - 1))
    done
}

# mstats HTTP-PORTS...: chatd's cluster counters summed over the nodes:
# "events-dropped unsent messages-in invalid".
mstats() {
    local h
    for h in "$@"; do curl -s --max-time 5 "http://127.0.0.1:$h/metrics"; done | awk '
        BEGIN {d = u = m = v = 0}
        $1 == "chatd_cluster_events_dropped_total" {d += $2}
        $1 == "chatd_cluster_unsent_total" {u += $2}
        $1 == "chatd_cluster_messages_in_total" {m += $2}
        $1 == "chatd_cluster_messages_invalid_total" {v += $2}
        END {printf "%d %d %d %d\n", d, u, m, v}'
}

# cpu_split OUTFILE NPIDS: chatbench's per-pid CPU line (nodes first, redis
# last) as " cpu_node1=S cpu_nodes=S cpu_redis=S".
cpu_split() {
    sed -n 's/^  servers ([0-9]* pids) CPU [^:]*: \(.*\) s$/\1/p' "$1" | tr ' ' '\n' |
        awk -F= -v n="$2" 'NF == 2 {i++; if (i == 1) a = $2; else if (i <= n) b += $2; else r = $2}
            END {if (i) printf " cpu_node1=%s cpu_nodes=%.2f cpu_redis=%s", a, b, r}'
}

printf 'CONFIGS=%q\nREPS=%q\nDURATION=%q\nCHATD=%q\nCHATD_ARGS=%q\nCLUSTER_ARGS=%q\n' \
    "$CONFIGS" "$REPS" "$DURATION" "$CHATD" "$CHATD_ARGS" "$CLUSTER_ARGS" >"$OUT/params"
: >"$RES"
read -r -a CL <<<"$CONFIGS"
n=${#CL[@]}
log "fan-out: $REPS reps of ${DURATION} s, ${CL[*]} interleaved (order rotated each rep)"
for rep in $(seq "$REPS"); do
    for k in $(seq 0 $((n - 1))); do
        c=${CL[$(((k + rep - 1) % n))]}
        parse "$c"
        key=chatd proto=line
        [ "$KIND" = cluster ] && key=c$K
        [ "$KIND" = sio ] && key=sio$K proto=socketio
        args=(--ports "${PORTS[$key]}")
        for p in ${NPIDS[$key]}; do args+=(--pid "$p"); done
        rport=${REDIS_PORT[$key]:-}
        [ -n "$rport" ] && args+=(--pid "${REDIS_PID[$key]}")
        [ "$SPREAD" = 1 ] && args+=(--spread-senders)
        hports=${HPORTS[$key]:-}
        [ -n "$rport" ] && before=$(rstats "$rport")
        # shellcheck disable=SC2086 # a word list
        [ -n "$hports" ] && mbefore=$(mstats $hports)
        timeout 200 "$GEN" --proto "$proto" "${args[@]}" --scenario fanout -R "$R" -S 4 \
            -M 1000000 -W 16 --size 64 --duration "$DURATION" --label "$c-r$rep" \
            --time-limit 150 >"$OUT/$c-r$rep.out" 2>"$OUT/$c-r$rep.err"
        r=$(grep '^RESULT' "$OUT/$c-r$rep.out" | tail -n 1)
        if [ -z "$r" ]; then
            log "$c rep $rep: no result ($(head -c 300 "$OUT/$c-r$rep.err"))"
            continue
        fi
        if [ -n "$rport" ]; then
            settle "$rport"
            read -r -a A <<<"$before"
            read -r -a B <<<"$(rstats "$rport")"
            r+=" redis_cmds=$((B[0] - A[0])) redis_in=$((B[1] - A[1])) redis_out=$((B[2] - A[2]))"
            r+=" redis_evalsha=$((B[3] - A[3])) redis_publish=$((B[4] - A[4]))"
            r+=$(cpu_split "$OUT/$c-r$rep.out" "$(echo "${NPIDS[$key]}" | wc -w)")
        fi
        if [ -n "$hports" ]; then
            read -r -a A <<<"$mbefore"
            # shellcheck disable=SC2086 # a word list
            read -r -a B <<<"$(mstats $hports)"
            r+=" cl_dropped=$((B[0] - A[0])) cl_unsent=$((B[1] - A[1])) cl_in=$((B[2] - A[2]))"
            r+=" cl_invalid=$((B[3] - A[3]))"
        fi
        echo "$c $rep $r" >>"$RES"
        printf '   rep %s %-10s %8s dlv/s  p99 %7s ms  lost %s  reord %s  srv %5s ns/dlv  redis %s cmds/line  other %s%%\n' \
            "$rep" "$c" "$(field "$r" deliv_per_s)" "$(field "$r" p99_ms)" "$(field "$r" lost)" \
            "$(field "$r" reordered)" "$(ns_dlv "$r")" \
            "$(div "$(field "$r" redis_cmds)" "$(field "$r" sent)" %.2f)" \
            "$(field "$r" other_cpu_pct)" >&2
    done
done

# A node that died, or logged trouble, is a finding: say so.
for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || log "pid $p died during the runs (see $OUT/srv-*)"; done
grep -l -E 'warn|error|link down|unavailable' "$OUT"/srv-*/*.log 2>/dev/null |
    while read -r f; do log "$f: $(grep -c -E 'warn|error|link down|unavailable' "$f") warning/error lines"; done
stop_all

tables
