#!/usr/bin/env bash
# Feed filter-censor requests as chatd writes them (doc/filter.md) and
# compare its answers: a masked word is a rewrite, anything else an allow;
# a line that is no request gets no answer and the next ones still do;
# the program ends, status 0, when its input does.
# usage: check-filter-censor.sh FILTER_CENSOR_EXE
set -euo pipefail
requests='{"id":1,"kind":"chat","sender":"alice","room":"main","text":"what the heck"}
{"id":2,"kind":"me","sender":"alice","room":"main","text":"says \"HECK\" \\ hecktor"}
not a request
{"id":3,"kind":"direct","sender":"bob","room":null,"text":"all fine"}
{"id":4,"kind":"chat","sender":"bob","room":"main","text":"darn \u00e9t\u00e9 darn"}'
expected='{"id":1,"verdict":"rewrite","text":"what the ****"}
{"id":2,"verdict":"rewrite","text":"says \"****\" \\ hecktor"}
{"id":3,"verdict":"allow"}
{"id":4,"verdict":"rewrite","text":"**** été ****"}'
diff -u <(printf '%s\n' "$expected") \
    <(printf '%s\n' "$requests" | "$1" darn heck 2>/dev/null)
