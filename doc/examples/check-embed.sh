#!/usr/bin/env bash
# Run the embed example and compare its transcript with embed.expected.
# The help text is left out (from "Server commands" up to "You are"): its
# wording belongs to the broker, and the other lines are the protocol's (doc/protocol.md).
# usage: check-embed.sh EMBED_EXE EXPECTED_FILE
set -euo pipefail
"$1" | sed -E '/< Server commands/,/< You are /{/< You are /!d}' | diff -u "$2" -
