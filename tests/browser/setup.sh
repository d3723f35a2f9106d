#!/bin/sh
# The browser tests' one-time setup: npm's playwright-core, pinned exactly
# with its integrity hash (package.json, package-lock.json beside this
# script), installed into a cache outside the repo:
#   ${LIBCHAT_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libchat-npm}
# Nothing else is downloaded: playwright-core drives Debian's chromium
# (/usr/bin/chromium); its own browser downloads are never used.
#
# Does nothing when that exact lock is already installed (the usual case:
# a few milliseconds). run.sh calls it before every test, so the first test
# of a run installs and the others wait on the lock; an install takes a
# couple of seconds. Exits non-zero, saying why on stderr, when npm is
# missing or the install fails (no network, say); run.sh then skips.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${LIBCHAT_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libchat-npm}
stamp=$cache/.installed-lock

say() { printf 'setup.sh: %s\n' "$*" >&2; }

installed() {
    [ -f "$cache/node_modules/playwright-core/package.json" ] &&
        cmp -s "$here/package-lock.json" "$stamp"
}

installed && exit 0
command -v npm >/dev/null 2>&1 || { say "npm is not installed"; exit 1; }
mkdir -p "$cache"

# One install at a time: meson runs several browser tests at once.
exec 9>"$cache/.lock"
if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || { say "timed out waiting for $cache/.lock"; exit 1; }
fi
installed && exit 0

say "installing playwright-core into $cache"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$cache/"
# npm ci: exactly the lock, integrity checked; no install scripts run.
if ! npm ci --prefix "$cache" --ignore-scripts --no-audit --no-fund \
        --fetch-retries=1 --fetch-timeout=30000 >&2; then
    say "npm ci failed"
    exit 1
fi
cp "$here/package-lock.json" "$stamp"
