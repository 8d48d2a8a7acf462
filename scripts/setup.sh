#!/bin/sh
# Installs what Rampart needs to build, test and run its demo on Debian 12, and creates the
# unprivileged account the daemons run as. Safe to run again: it installs only what is missing.
#
# It never replaces a mail server you already run: Debian's postfix package conflicts with exim4
# (and other MTAs), so if one of those is installed this script stops and says why. An installed
# Postfix is left alone: the tests and the demo use private Postfix instances with their own
# configuration and queue directories, on loopback ports, and never touch /etc/postfix.
set -eu

PACKAGES="build-essential cmake pkg-config
  libmilter-dev libopendkim-dev libssl-dev libboost-program-options-dev libboost-dev catch2
  libsqlite3-dev libhiredis-dev libpsl-dev libidn2-dev libc-ares-dev libhowardhinnant-date-dev tzdata
  postfix swaks python3-dkim dnsmasq-base ca-certificates curl clang-format"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "setup: run as root (or install sudo): installing packages needs root" >&2; exit 1
    fi
fi

# Another MTA? Installing postfix would remove it.
other_mta=""
for p in exim4-daemon-light exim4-daemon-heavy exim4-base sendmail-bin opensmtpd courier-mta nullmailer msmtp-mta dma; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then other_mta="$other_mta $p"; fi
done
if [ -n "$other_mta" ] && ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q "install ok installed"; then
    cat >&2 <<MSG
setup: stopping: this machine runs another mail server (${other_mta# }).
Rampart's tests and demo need Debian's postfix package, and installing it would REMOVE
${other_mta# } (Debian's MTAs conflict with each other). Nothing was changed.
Run the tests on a machine or container without another MTA, or install postfix yourself
if replacing ${other_mta# } is what you want.
MSG
    exit 1
fi

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    # "No configuration": the postfix package must not configure or start a system mail server.
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $missing >/tmp/rampart-setup-apt.log 2>&1 || {
        $SUDO apt-get update -q >>/tmp/rampart-setup-apt.log 2>&1
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -q --no-install-recommends $missing >>/tmp/rampart-setup-apt.log 2>&1 || {
            tail -20 /tmp/rampart-setup-apt.log >&2; echo "setup: apt-get install failed (log: /tmp/rampart-setup-apt.log)" >&2; exit 1; }
    }
fi

# Exim, for the Exim integration test only: Debian's exim4 packages conflict with postfix, so they are
# downloaded and unpacked into a private prefix, never installed. Exim's binary insists on running as
# the Debian-exim account, which is created (without a home or a shell) if missing.
EXIM_PREFIX=${RAMPART_EXIM_PREFIX:-/var/cache/rampart-test/exim}
if [ ! -x "$EXIM_PREFIX/usr/sbin/exim4" ]; then
    dl=$(mktemp -d)
    chmod 755 "$dl"; chown _apt "$dl" 2>/dev/null || true
    (cd "$dl" && $SUDO apt-get download -q exim4-daemon-light exim4-base exim4-config libidn12 >/dev/null 2>&1) || {
        $SUDO apt-get update -q >/dev/null 2>&1
        (cd "$dl" && $SUDO apt-get download -q exim4-daemon-light exim4-base exim4-config libidn12 >/dev/null) ||
            { echo "setup: cannot download Debian's exim4 packages (for the Exim test)" >&2; exit 1; }
    }
    $SUDO mkdir -p "$EXIM_PREFIX"
    for f in "$dl"/*.deb; do $SUDO dpkg -x "$f" "$EXIM_PREFIX"; done
    rm -rf "$dl"
    echo "setup: unpacked Debian's exim4 into $EXIM_PREFIX (not installed)"
fi
getent passwd Debian-exim >/dev/null || $SUDO useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --user-group Debian-exim

# The account rampart-milter and rampart-policyd switch to after opening their sockets.
if ! getent passwd rampart >/dev/null; then
    $SUDO useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin rampart
    echo "setup: created system user rampart"
fi
echo "setup: ok"
