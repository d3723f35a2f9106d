#!/usr/bin/env bash
# The shared library exports exactly the functions the public headers
# declare with CHAT_EXTERN: nothing internal leaks, nothing public is lost.
set -euo pipefail
lib=$1; shift
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort)
declared=$(cat "$@" | tr '\n' ' ' | grep -oE 'CHAT_EXTERN[^;{]*\(' |
           grep -oE 'chat_[a-z0-9_]+ *\($' | tr -d ' (' | sort)
if [ "$exported" != "$declared" ]; then
    echo "exported vs declared differ:"
    diff <(echo "$exported") <(echo "$declared") || true
    exit 1
fi
echo "exports match: $(echo "$exported" | wc -l) functions"
