#!/bin/sh
# Signs the fixture corpus with Rampart (rampart-sign-fixture) and requires every signature to
# pass in two independent verifiers: libopendkim (odkim-verify) and dkimpy (dkimpy_verify.py).
# The committed golden signatures (tests/golden/dkim, checked byte for byte by golden_test.cpp)
# must verify too. Also checks that both verifiers reject tampered copies, so a verifier that
# passes everything cannot make this test pass.
#   run_independent_verifiers.sh FIXTURE ODKIM_VERIFY DKIMPY_VERIFY KEYDIR WORKDIR
set -eu
if [ $# -ne 5 ]; then
    echo "usage: $0 FIXTURE ODKIM_VERIFY DKIMPY_VERIFY KEYDIR WORKDIR" >&2
    exit 2
fi
fixture=$(realpath "$1") odkim=$(realpath "$2") dkimpy=$(realpath "$3")
keydir=$(realpath "$4") work=$(realpath -m "$5")
python=/usr/bin/python3

for f in "$fixture" "$odkim"; do
    [ -x "$f" ] || { echo "FAIL: $f is missing or not executable" >&2; exit 1; }
done
[ -r "$dkimpy" ] || { echo "FAIL: $dkimpy is missing" >&2; exit 1; }
[ -x "$python" ] || { echo "FAIL: $python is missing (dkimpy needs Debian's python3)" >&2; exit 1; }
"$python" -c 'import dkim, nacl' || {
    echo "FAIL: dkimpy or PyNaCl missing (apt-get install python3-dkim python3-nacl)" >&2
    exit 1
}

rm -rf "$work"
mkdir -p "$work/signed" "$work/tampered" "$work/golden"
"$fixture" "$keydir" "$work/signed"

status=0
run() {  # NAME COMMAND...: runs a verifier, keeping its output
    name=$1
    shift
    if ! "$@" >"$work/$name.out" 2>&1; then
        echo "FAIL: $name" >&2
        grep -v ' pass ok$' "$work/$name.out" >&2 || true
        status=1
    fi
}
# libopendkim refuses relaxed bodies without a final CRLF unless told to fix line ends: the
# fixture names those messages "nocrlf-*", and only they are checked with --fixcrlf.
cd "$work/signed"
set -- $(ls *.1sig.eml | grep -v '^nocrlf-')
count1=$#
run odkim-1sig "$odkim" --keys keys.txt --require 1 "$@"
set -- $(ls *.2sig.eml | grep -v '^nocrlf-')
count2=$#
run odkim-2sig "$odkim" --keys keys.txt --require 2 "$@"
set -- nocrlf-*.1sig.eml
count1=$((count1 + $#))
run odkim-1sig-fixcrlf "$odkim" --fixcrlf --keys keys.txt --require 1 "$@"
set -- nocrlf-*.2sig.eml
count2=$((count2 + $#))
run odkim-2sig-fixcrlf "$odkim" --fixcrlf --keys keys.txt --require 2 "$@"
run dkimpy-1sig "$python" "$dkimpy" --keys keys.txt --require 1 *.1sig.eml
run dkimpy-2sig "$python" "$dkimpy" --keys keys.txt --require 2 *.2sig.eml
cd - >/dev/null
golden=$(dirname "$keydir")
for sig in "$golden"/expected/*.sig; do
    cat "$sig" "$golden/message.eml" >"$work/golden/$(basename "$sig" .sig).eml"
done
set -- "$work"/golden/*.eml
if [ $# -ne 8 ]; then
    echo "FAIL: expected 8 golden signatures in $golden/expected, found $#" >&2
    status=1
fi
run odkim-golden "$odkim" --keys "$work/signed/keys.txt" --require 1 "$@"
run dkimpy-golden "$python" "$dkimpy" --keys "$work/signed/keys.txt" --require 1 "$@"
if [ "$count1" -lt 100 ] || [ "$count2" -lt 50 ]; then
    echo "FAIL: the fixture wrote only $count1 + $count2 messages" >&2
    status=1
fi
for name in odkim-1sig odkim-2sig odkim-1sig-fixcrlf odkim-2sig-fixcrlf odkim-golden \
    dkimpy-1sig dkimpy-2sig dkimpy-golden; do
    passes=$(grep -c ' pass ok$' "$work/$name.out" || true)
    echo "$name: $passes signatures passed"
done

# Negative control: tampered copies (a body byte, a header word, an added From) must fail in
# both verifiers.
for f in "$work"/signed/basic.*.1sig.eml; do
    sed 's/Hello Bob\./Hello Bub./' "$f" >"$work/tampered/$(basename "$f")"
done
for f in "$work"/signed/folded-headers.*.1sig.eml; do
    sed 's/^Subject:   A /Subject:   B /' "$f" >"$work/tampered/$(basename "$f")"
done
for f in "$work"/golden/*.eml; do  # an added From header is caught by oversigning
    { printf 'From: mallory@example.org\r\n'; cat "$f"; } >"$work/tampered/golden-$(basename "$f")"
done
for f in "$work"/tampered/*.eml; do
    if cmp -s "$f" "$work/signed/$(basename "$f")" || cmp -s "$f" "$work/golden/$(basename "$f")"; then
        echo "FAIL: tampering did not change $f" >&2
        status=1
    fi
    if "$odkim" --keys "$work/signed/keys.txt" "$f" >/dev/null 2>&1; then
        echo "FAIL: odkim-verify accepted tampered $f" >&2
        status=1
    fi
    if "$python" "$dkimpy" --keys "$work/signed/keys.txt" "$f" >/dev/null 2>&1; then
        echo "FAIL: dkimpy_verify.py accepted tampered $f" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "all signatures verified by libopendkim and dkimpy"
exit $status
