#!/bin/sh
# `cmake --install` puts programs, man pages and the example configuration in place, and a second
# install (an upgrade) never overwrites a rampart.conf the sysadmin has edited.
set -eu
BUILD=$1
DEST=$(mktemp -d)
trap 'rm -rf "$DEST"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr/local >/dev/null
for f in usr/local/sbin/rampart-milter usr/local/sbin/rampart-policyd usr/local/sbin/rampartctl \
         usr/local/share/man/man8/rampart-policyd.8 \
         usr/local/share/man/man8/rampart-milter.8 usr/local/share/man/man8/rampartctl.8 \
         usr/local/share/man/man5/rampart.conf.5 usr/local/share/rampart/examples/rampart.conf \
         usr/local/share/rampart/contrib/postfix/main.cf.milter usr/local/share/rampart/contrib/systemd/rampart-milter.service \
         etc/rampart/rampart.conf; do
    [ -e "$DEST/$f" ] || fail "$f was not installed"
done
"$DEST/usr/local/sbin/rampartctl" --version | grep -q '^rampartctl ' || fail "installed rampartctl does not run"
man -l "$DEST/usr/local/share/man/man8/rampart-milter.8" >/dev/null 2>&1 || MANWIDTH=80 groff -man -Tutf8 "$DEST/usr/local/share/man/man8/rampart-milter.8" >/dev/null 2>&1 || true
# The installed example configuration is valid as it stands.
"$DEST/usr/local/sbin/rampart-milter" -c "$DEST/etc/rampart/rampart.conf" --print-config >/dev/null || fail "installed rampart.conf does not parse"

echo "milter_listen = inet:8891@127.0.0.1   # edited by the sysadmin" >> "$DEST/etc/rampart/rampart.conf"
before=$(cksum < "$DEST/etc/rampart/rampart.conf")
out=$(DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr/local 2>&1)
after=$(cksum < "$DEST/etc/rampart/rampart.conf")
[ "$before" = "$after" ] || fail "a second install overwrote rampart.conf"
echo "$out" | grep -q "Keeping existing" || fail "the second install did not say it kept rampart.conf"
echo "install test OK"
