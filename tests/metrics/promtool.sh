#!/usr/bin/env bash
# promtool (Debian's prometheus package) parses and lints what
# print_metrics renders: the sample registry and this process's metrics.
# Exit 77 (meson's skip) when promtool is not installed.
#
# usage: promtool.sh PRINT_METRICS
set -euo pipefail

if ! command -v promtool >/dev/null; then
    echo "skip: promtool is not installed (Debian: prometheus)"
    exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Into a file first: a print_metrics failure must fail the test, not
# become an empty (and valid) input.
"$1" >"$out"
# Lint problems are printed and make promtool exit non-zero.
promtool check metrics <"$out"
echo "promtool: $(grep -c '^# TYPE' "$out") metric families are valid"
