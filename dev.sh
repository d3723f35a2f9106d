#!/usr/bin/env bash
# The two commands of the README:
#   ./dev.sh run [chatd flags...]  install what is missing, build, start chatd
#                                  (lines on 127.0.0.1:4242, the chat page on
#                                  http://127.0.0.1:8000/)
#   ./dev.sh test                  install what is missing, build, run every
#                                  test, again under ASan+UBSan, chatd under
#                                  valgrind, static analysis, fuzzing; print
#                                  one closing line "N passed, N failed"
# FUZZ_SECONDS (default 60) sets how long each fuzz target runs.
# Works on a fresh Debian/Ubuntu machine; uses sudo only when not root.
set -euo pipefail

cd "$(dirname "$0")"

# Debian packages the tree needs to build and test (keep in sync with
# meson.build's dependencies and the test scripts' tools).
PACKAGES=(
    meson ninja-build gcc g++ clang pkg-config binutils
    libevent-dev check libsubunit-dev valgrind libreadline-dev libssl-dev
    libhiredis-dev # chatd --redis (server/redis.c)
    openssl # the command: the TLS tests' throwaway CA (tests/tls/mkcerts.sh)
    clang-tidy cppcheck
    # real third-party clients and servers the tests drive
    prometheus python3-websocket python3-websockets socat redis-server
    sslscan # what chatd's TLS listener accepts (tests/tlsd/tls_policy.py)
    chromium nodejs
    # npm: a package of its own with Debian's nodejs; NodeSource's nodejs
    # has it built in and conflicts with that package.
    $(command -v npm >/dev/null || echo npm)
)

BUILD_DIR=build
ASAN_DIR=build-asan
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

log() { printf 'dev.sh: %s\n' "$*" >&2; }

usage() {
    cat >&2 <<'EOF'
usage: ./dev.sh run [chatd flags...]   build and start chatd (127.0.0.1:4242)
       ./dev.sh test                   build and run all tests (plain, ASan/UBSan,
                                       valgrind), lint, fuzz (FUZZ_SECONDS each)
EOF
    exit 2
}

# Install the packages dpkg does not know as installed. Never prompts, so it
# also works with no stdin (CI).
install_missing() {
    local missing=() pkg sudo=()
    for pkg in "${PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing: ${missing[*]}"
    if ((EUID != 0)); then
        command -v sudo >/dev/null || { log "not root and no sudo: install ${missing[*]} by hand"; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends "${missing[@]}" </dev/null
}

# Configure dir once (later runs let ninja regenerate on its own), then
# apply the extra options, which is a no-op when they are already set.
configure() {
    local dir=$1; shift
    if [[ ! -f $dir/build.ninja ]]; then
        if [[ -f $dir/meson-private/coredata.dat ]]; then
            meson setup --reconfigure "$dir" "$@"
        else
            meson setup "$dir" "$@"
        fi
    elif (($# > 0)); then
        meson configure "$dir" "$@"
    fi
}

# -Werror is ours, not the default build's (a newer compiler's new warning
# must not break a distribution): every build dev.sh makes has it.
build() {
    local dir=$1; shift
    configure "$dir" -Dwerror=true "$@" && meson compile -C "$dir"
}

# Totals over all test runs, printed as the closing line.
PASSED=0 FAILED=0 SKIPPED=0

# Add meson test's summary block (in file $1) to the totals. Expected
# failures count as passed; timeouts and unexpected passes as failed.
add_summary() {
    local key value
    while IFS=: read -r key value; do
        value=${value//[^0-9]/}
        case $key in
            'Ok' | 'Expected Fail') PASSED=$((PASSED + value)) ;;
            'Fail' | 'Unexpected Pass' | 'Timeout') FAILED=$((FAILED + value)) ;;
            'Skipped') SKIPPED=$((SKIPPED + value)) ;;
        esac
    done < <(sed 's/\x1b\[[0-9;]*m//g' "$1" |
        grep -E '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): +[0-9]+')
}

# Run meson test in dir with the given extra arguments and add its counts.
# meson test failing without a failed test in its summary (a crash, an
# unknown setup) counts as one failed test so it cannot go unnoticed. A
# selection with no tests ("No suitable tests defined", exit 0) adds none.
meson_test() {
    local dir=$1; shift
    local out status=0 failed_before=$FAILED
    out=$(mktemp)
    meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$out" || status=$?
    add_summary "$out"
    rm -f "$out"
    if ((status != 0 && FAILED == failed_before)); then
        log "meson test failed in $dir (exit $status)"
        FAILED=$((FAILED + 1))
    fi
}

# Build in dir with the given options and run its tests. A build failure
# counts as one failed test. BUILT lists the directories that built.
BUILT=()
build_and_test() {
    local dir=$1; shift
    if ! build "$dir" "$@"; then
        log "build failed in $dir"
        FAILED=$((FAILED + 1))
        return 1
    fi
    BUILT+=("$dir")
    meson_test "$dir"
}

# A command that is one test in the summary: passed if it exits 0.
one_test() {
    local name=$1; shift
    if "$@"; then
        PASSED=$((PASSED + 1))
    else
        log "$name failed"
        FAILED=$((FAILED + 1))
    fi
}

# tools/fuzz.sh prints "fuzz-result: TARGET ok|FAILED" per target; each is
# one test. No result line at all (the script died) is one failure.
fuzz_tests() {
    local out tag target result n=0
    out=$(mktemp)
    tools/fuzz.sh "$FUZZ_SECONDS" | tee "$out" || true
    while read -r tag target result; do
        [[ $tag == fuzz-result: ]] || continue
        n=$((n + 1))
        if [[ $result == ok ]]; then
            PASSED=$((PASSED + 1))
        else
            log "fuzzing $target failed"
            FAILED=$((FAILED + 1))
        fi
    done <"$out"
    rm -f "$out"
    if ((n == 0)); then
        log "tools/fuzz.sh reported nothing"
        FAILED=$((FAILED + 1))
    fi
}

# Run a step and log how long it took (CI time is watched).
step() {
    local name=$1 start=$SECONDS; shift
    log "== $name"
    "$@" || true
    log "== $name: $((SECONDS - start))s"
}

# The browser page's listener beside the line protocol's (DEV_HTTP to move
# it; --listen flags of your own come after and add to it).
DEV_HTTP=${DEV_HTTP:-127.0.0.1:8000}

cmd_run() {
    install_missing
    build "$BUILD_DIR"
    [[ -x $BUILD_DIR/server/chatd ]] || { log "no $BUILD_DIR/server/chatd was built"; exit 1; }
    log "chat with nc 127.0.0.1 4242, or open http://$DEV_HTTP/ in a browser"
    exec "$BUILD_DIR/server/chatd" -p 4242 --listen "http://$DEV_HTTP" "$@"
}

# The plain build's chatd under valgrind memcheck for the suites that
# start one (tests/meson.build's 'valgrind' setup; a memcheck error or a
# leak fails the test). Only when that build succeeded: its failure is
# already counted.
valgrind_tests() {
    [[ " ${BUILT[*]} " == *" $BUILD_DIR "* ]] || return 0
    meson_test "$BUILD_DIR" --setup valgrind --suite integration --suite fault \
        --suite cluster
}

cmd_test() {
    install_missing
    step "gcc build and tests" build_and_test "$BUILD_DIR"
    # b_lundef=false: the shared library leaves the sanitizer runtime's
    # symbols to the executables that load it.
    # The sanitizer build uses clang, so both compilers' -Werror are
    # checked on every run (the plain build above is gcc's).
    CC=clang CXX=clang++ step "clang ASan+UBSan build and tests" \
        build_and_test "$ASAN_DIR" -Db_sanitize=address,undefined -Db_lundef=false
    step "valgrind" valgrind_tests
    step "lint" one_test "tools/lint.sh" tools/lint.sh
    step "fuzz" fuzz_tests
    local line="$PASSED passed, $FAILED failed"
    ((SKIPPED > 0)) && line+=", $SKIPPED skipped"
    printf '%s\n' "$line"
    ((FAILED == 0))
}

(($# >= 1)) || usage
command=$1; shift
case $command in
    run) cmd_run "$@" ;;
    test) (($# == 0)) || usage; cmd_test ;;
    *) usage ;;
esac
