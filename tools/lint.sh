#!/usr/bin/env bash
# Static analysis of lib/, common/, server/, client/ and bench/ (not the tests):
#   clang-tidy with the checked-in .clang-tidy, and cppcheck.
# Fails (exit 1) on any finding; prints each one as file:line: message.
#
# usage: tools/lint.sh [BUILD_DIR]
#   BUILD_DIR (default build-lint) is a meson build directory whose
#   compile_commands.json gives clang-tidy each file's exact flags. It is
#   configured with clang if it does not exist yet; nothing is compiled.
#
# A finding that is a false positive is suppressed where it occurs, with
# the reason: `// NOLINT(check-name): why` for clang-tidy,
# `// cppcheck-suppress id` (one line above) for cppcheck.
set -euo pipefail

cd "$(dirname "$0")/.."

BUILD_DIR=${1:-build-lint}
DIRS=(lib common server client bench)
JOBS=$(nproc 2>/dev/null || echo 2)

log() { printf 'lint: %s\n' "$*" >&2; }

need() {
    command -v "$1" >/dev/null || { log "$1 is not installed"; exit 1; }
}

# compile_commands.json for the sources; clang's, so that clang-tidy
# understands every flag. -Dtests=false: only the sources we lint;
# -Dwerror=true: the flags of every build dev.sh makes.
compile_db() {
    if [[ ! -f $BUILD_DIR/compile_commands.json ]]; then
        CC=clang meson setup "$BUILD_DIR" -Dtests=false -Dwerror=true >/dev/null ||
            { log "meson setup $BUILD_DIR failed"; exit 1; }
    fi
}

# The .c files linted; headers are checked through them (.clang-tidy's
# HeaderFilterRegex) and by cppcheck directly.
sources() {
    git ls-files -- "${DIRS[@]/%//*.c}" 2>/dev/null ||
        find "${DIRS[@]}" -name '*.c'
}

run_clang_tidy() {
    local out status=0
    out=$(mktemp)
    # One process per file, in parallel; each prints only its findings.
    # "N warnings generated" (stderr) is noise unless something failed.
    sources | xargs -r -P "$JOBS" -n 1 \
        clang-tidy -p "$BUILD_DIR" --quiet >"$out" 2>"$out.err" || status=$?
    if ((status != 0)); then
        grep -v 'warnings\? \(and [0-9]* errors\? \)\?generated\.$' "$out.err" >&2 || true
        cat "$out"
        log "clang-tidy: findings above"
    fi
    rm -f "$out" "$out.err"
    return "$status"
}

run_cppcheck() {
    # -I include -I lib: our headers, so types and macros are known; system
    # headers are left to cppcheck's posix library description.
    # Every #ifdef configuration is checked (e.g. chat-cli with and without
    # rl_clear_visible_line).
    cppcheck --enable=warning,style,performance,portability \
        --error-exitcode=1 --inline-suppr --quiet \
        --std=c11 --library=posix -j "$JOBS" \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
        -I include -I lib "${DIRS[@]}" || {
        log "cppcheck: findings above"
        return 1
    }
}

need clang-tidy
need cppcheck
need meson
compile_db
failed=0
log "clang-tidy ($(clang-tidy --version | sed -n 's/.*LLVM version //p' | head -n 1))"
run_clang_tidy || failed=1
log "cppcheck ($(cppcheck --version))"
run_cppcheck || failed=1
if ((failed)); then
    log "FAILED"
    exit 1
fi
log "clean"
