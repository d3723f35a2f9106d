# bench/common.sh - what the benchmark scripts share (sourced by
# transports.sh, cluster.sh and run.sh): a free loopback port, whether
# one is listened on, and reading chatbench's result lines.

# A loopback port nobody listens on (redis-server cannot be told to pick).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

field() { # RESULT-LINE KEY: the value of KEY=... in a chatbench result line
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
div() { # A B [FORMAT]: A / B, "-" when either is missing or B is 0
    awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" \
        'BEGIN {if (a != "" && a != "-" && b + 0 > 0) printf f "\n", a / b; else print "-"}'
}
ns_dlv() { # RESULT-LINE: server CPU ns per delivery to receivers
    div "$(field "$1" srv_cpu_s)e9" "$(field "$1" delivered)"
}
# median of the numbers on stdin ("-" lines skipped; "-" if none)
median() { grep -v '^-$' | sort -g | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : "-"}'; }
