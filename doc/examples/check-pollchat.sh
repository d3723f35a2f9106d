#!/usr/bin/env bash
# Smoke test of the pollchat example over loopback: two clients chat, one
# quits, then SIGTERM shuts the server down cleanly.
# usage: check-pollchat.sh POLLCHAT_EXE
set -euo pipefail

tmp=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "pollchat test: $*" >&2; exit 1; }

# Read lines from fd $1 until one equals $2; sets $seen to all lines read.
expect() {
    local fd=$1 want=$2 line
    seen=
    while IFS= read -r -t 5 -u "$fd" line; do
        seen+="$line"$'\n'
        [[ $line == "$want" ]] && return 0
    done
    fail "fd $fd: no line '$want'; got: $seen"
}

"$1" 0 >"$tmp/out" &
pid=$!
for _ in $(seq 50); do
    grep -q 'listening on' "$tmp/out" && break
    sleep 0.1
done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/out")
[[ -n $port ]] || fail "server did not start"

exec 3<>"/dev/tcp/127.0.0.1/$port"
expect 3 "You joined main"
name_a=$(sed -n 's/^You are //p' <<<"$seen")
[[ -n $name_a ]] || fail "no 'You are' line"

exec 4<>"/dev/tcp/127.0.0.1/$port"
expect 4 "You joined main"
name_b=$(sed -n 's/^You are //p' <<<"$seen")
expect 3 "$name_b joined main"

printf 'hello from a\n' >&3
expect 4 "$name_a: hello from a"
expect 3 "$name_a: hello from a"

printf '/quit\n' >&4
expect 4 "Bye!"
expect 3 "$name_b left main"
exec 4<&-

kill -TERM "$pid"
expect 3 "Server shutting down..."
status=0
wait "$pid" || status=$?
pid=
[[ $status == 0 ]] || fail "pollchat exited with $status"
echo "pollchat test passed"
