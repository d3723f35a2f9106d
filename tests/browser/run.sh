#!/bin/sh
# One browser test: run.sh TEST CHATD [ARGS...] runs page_tests.js's
# test_TEST against CHATD (see page_tests.js). Exits 77 (meson's skip) when
# this machine cannot run it: no chromium, no node, or the pinned
# playwright-core is not in the npm cache and setup.sh cannot install it.
# CHROMIUM overrides /usr/bin/chromium.
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

skip() { printf 'skip: %s\n' "$*"; exit 77; }

[ -x "$chromium" ] || skip "no $chromium (Debian package chromium)"
command -v node >/dev/null 2>&1 || skip "no node (Debian package nodejs)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
    skip "node $(node --version) is older than 18"
"$here/setup.sh" || skip "no playwright-core in the npm cache (tests/browser/setup.sh failed)"
exec node "$here/page_tests.js" "$@"
