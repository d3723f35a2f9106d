#!/usr/bin/env bash
# Install libchat into a temporary prefix from a fresh build of the source
# tree, then build and run a program outside the tree against it with
# exactly: cc prog.c $(pkg-config --cflags --libs libchat)
# usage: run.sh SOURCE_DIR PROG_C SERVER CLI BENCH (each true|false: the
# calling build's program options, so the fresh build needs no dependency
# the calling one did without)
set -euo pipefail

src=$1 prog=$2 server=${3:-false} cli=${4:-false} bench=${5:-false}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() { echo "install test: $*" >&2; exit 1; }

# Its own build dir, so the build under test is untouched and the
# sanitizer options of the calling build (whose runtime a plain cc
# program could not load) do not carry over.
meson setup "$tmp/build" "$src" --prefix="$prefix" -Dtests=false \
    -Dserver="$server" -Dcli="$cli" -Dbench="$bench" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; fail "meson setup failed"; }
meson install -C "$tmp/build" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "meson install failed"; }

# Debian puts it in lib/x86_64-linux-gnu/pkgconfig, others in lib/ or lib64/.
pc=$(find "$prefix" -name libchat.pc -print -quit)
[[ -n $pc ]] || fail "no libchat.pc installed under $prefix"
export PKG_CONFIG_PATH=${pc%/*}
libdir=$(pkg-config --variable=libdir libchat)
echo "libchat.pc: $pc (libdir $libdir)"

[[ -f $prefix/include/libchat/chat.h ]] || fail "public headers not installed"
soname=$(objdump -p "$libdir/libchat.so" | awk '$1 == "SONAME" { print $2 }')
[[ $soname == libchat.so.0 ]] || fail "SONAME is '$soname', want libchat.so.0"
echo "SONAME $soname"

cp "$prog" "$tmp/prog.c"
cd "$tmp"
# shellcheck disable=SC2046 # word splitting is the point
cc prog.c $(pkg-config --cflags --libs libchat)
LD_LIBRARY_PATH=$libdir ./a.out || fail "prog failed"

# Each program that was asked for, with its man page; none that was not.
check_program() {
    local prog=$1 wanted=$2
    if [[ $wanted != true ]]; then
        [[ ! -e $prefix/bin/$prog ]] || fail "$prog installed with its option off"
        return 0
    fi
    [[ -x $prefix/bin/$prog ]] || fail "$prog not installed"
    LD_LIBRARY_PATH=$libdir "$prefix/bin/$prog" --version || fail "$prog --version failed"
    [[ -n $(find "$prefix" -path "*/man1/$prog.1*" -print -quit) ]] ||
        fail "$prog.1 not installed"
}
check_program chatd "$server"
check_program chat-cli "$cli"
check_program chat-bench "$bench"
echo "install test passed"
