#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan, -Dfuzz=true) and run each
# for a bounded time on a copy of its seed corpus. Exit 1 on any finding
# (crash, sanitizer report, leak, timeout, out-of-memory) or if a target
# could not be built or run; each finding's input file and the command
# that reproduces it are printed.
#
# usage: tools/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  how long each target runs (default 60)
#   TARGET   broker, framer (default: both). Targets run in parallel, up
#            to one per CPU.
#
# Prints one line per target for dev.sh to count:
#   fuzz-result: fuzz_broker ok
#   fuzz-result: fuzz_framer FAILED
#
# Work files go to build-fuzz/ (FUZZ_BUILD_DIR): run/<target>/corpus is the
# corpus (seeds plus what the run found; keep it to resume by hand),
# run/<target>/log the fuzzer's output, artifacts/ the findings.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

SECONDS_EACH=${1:-60}
shift $(($# > 0 ? 1 : 0))
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
    for d in tests/fuzz/corpus_*/; do d=${d%/}; TARGETS+=("${d#tests/fuzz/corpus_}"); done
fi
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=$(nproc 2>/dev/null || echo 1)

# Longer inputs than this only slow each run down: a broker script of 4 KiB
# already holds lines past the 400-byte limit and dozens of operations.
MAX_LEN=4096

log() { printf 'fuzz: %s\n' "$*" >&2; }

[[ $SECONDS_EACH =~ ^[0-9]+$ ]] && ((SECONDS_EACH > 0)) ||
    { log "SECONDS must be a positive number, not '$SECONDS_EACH'"; exit 2; }
for t in "${TARGETS[@]}"; do
    [[ -d tests/fuzz/corpus_$t ]] || { log "no target '$t'"; exit 2; }
done

# Only the fuzz targets are compiled, not the rest of the tree.
# No programs: the targets need neither libevent nor readline. -Werror as
# in every build dev.sh makes.
build() {
    local opts=(-Dfuzz=true -Dserver=false -Dcli=false -Dbench=false
                -Db_sanitize=address,undefined -Db_lundef=false
                -Dbuildtype=debugoptimized -Dwerror=true)
    if [[ ! -f $BUILD_DIR/build.ninja ]]; then
        rm -rf "$BUILD_DIR"
        CC=clang meson setup "$BUILD_DIR" "${opts[@]}" >/dev/null || return 1
    else
        meson configure "$BUILD_DIR" "${opts[@]}" >/dev/null || return 1
    fi
    meson compile -C "$BUILD_DIR" "${TARGETS[@]/#/fuzz_}" >/dev/null
}

# Sanitizer findings must stop the run so libFuzzer saves the input:
# UBSan only prints and goes on unless told to halt.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# Run one target; its exit status is the fuzzer's.
run_target() {
    local t=$1 exe=$BUILD_DIR/tests/fuzz/fuzz_$1
    local dir=$BUILD_DIR/run/fuzz_$t art=$BUILD_DIR/artifacts/fuzz_$t/
    rm -rf "$dir" "$art"
    mkdir -p "$dir/corpus" "$art"
    cp tests/fuzz/corpus_"$t"/* "$dir/corpus/"
    "$exe" -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" \
        "$dir/corpus" >"$dir/log" 2>&1
}

# Say how it went; on a finding, where the input is and how to replay it.
report() {
    local t=$1 status=$2 dir=$BUILD_DIR/run/fuzz_$1
    local exe=$BUILD_DIR/tests/fuzz/fuzz_$1 f found=0
    local runs
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$dir/log" | tail -n 1)
    if ((status == 0)) && [[ -n $runs ]]; then
        log "fuzz_$t: ok, $runs runs in ${SECONDS_EACH}s, corpus" \
            "$(ls tests/fuzz/corpus_"$t" | wc -l) -> $(ls "$dir/corpus" | wc -l) inputs"
        echo "fuzz-result: fuzz_$t ok"
        return 0
    fi
    log "fuzz_$t: FAILED (exit $status); last lines of $dir/log:"
    tail -n 40 "$dir/log" >&2
    for f in "$BUILD_DIR/artifacts/fuzz_$t/"*; do
        [[ -f $f ]] || continue
        found=1
        log "finding: $f"
        log "reproduce: UBSAN_OPTIONS=$UBSAN_OPTIONS $exe $f"
    done
    ((found)) || log "no input was saved (the fuzzer failed to start?)"
    echo "fuzz-result: fuzz_$t FAILED"
    return 1
}

if ! command -v clang >/dev/null || ! build; then
    log "cannot build the fuzz targets in $BUILD_DIR (needs clang with libFuzzer)"
    for t in "${TARGETS[@]}"; do echo "fuzz-result: fuzz_$t FAILED"; done
    exit 1
fi

log "running ${TARGETS[*]} for ${SECONDS_EACH}s each"
# Each run leaves its exit status in run/<target>/status.
running=0
for t in "${TARGETS[@]}"; do
    if ((running >= JOBS)); then
        wait -n
        running=$((running - 1))
    fi
    (run_target "$t"; echo $? >"$BUILD_DIR/run/fuzz_$t/status") &
    running=$((running + 1))
done
wait
failed=0
for t in "${TARGETS[@]}"; do
    report "$t" "$(cat "$BUILD_DIR/run/fuzz_$t/status" 2>/dev/null || echo 1)" ||
        failed=1
done
exit "$failed"
