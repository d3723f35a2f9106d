#!/usr/bin/env bash
# Check that a markdown file quotes a source file whole, in a ```c block
# whose first line is the file's first line.
# usage: check-quoted.sh DOC.md SOURCE.c
set -euo pipefail
doc=$1 src=$2
first=$(head -n 1 "$src")
quoted=$(awk -v first="$first" '
    /^```c$/ { inblock = 1; n = 0; next }
    /^```$/ && inblock { if (found) exit; inblock = 0; next }
    inblock { if (n++ == 0 && $0 == first) found = 1; if (found) print }
' "$doc")
diff -u "$src" <(printf '%s\n' "$quoted") || {
    echo "$doc does not quote $src as it is: update one of them" >&2
    exit 1
}
