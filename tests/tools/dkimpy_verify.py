#!/usr/bin/python3
"""dkimpy-verify: checks DKIM signatures with dkimpy (Debian python3-dkim), an implementation
independent of Rampart's signer, against public keys from a file instead of DNS.

  dkimpy_verify.py --keys KEYFILE [--require N] message.eml [more.eml...]

KEYFILE lines: "SELECTOR._domainkey.DOMAIN TXT-DATA" (as for odkim-verify).
Prints one line per signature: "FILE d=DOMAIN s=SELECTOR a=ALG pass|fail REASON".
Exit status 0 only if every message has at least one signature (exactly N passing ones with
--require N) and every signature passes; 1 on verification failures, 2 on usage/IO errors.
Uses the standard library and dkim only (ed25519 needs python3-nacl).
"""

import logging
import sys

import dkim


class _Collect(logging.Handler):
    """Keeps dkimpy's error messages: verify() returns False and logs why."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        if record.levelno >= logging.INFO:
            self.messages.append(record.getMessage())


def usage():
    sys.stderr.write("usage: dkimpy_verify.py --keys KEYFILE [--require N] message.eml...\n")
    sys.exit(2)


def load_keys(path):
    keys = {}
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(b"#"):
                continue
            parts = line.split(None, 1)
            if len(parts) != 2:
                sys.stderr.write("dkimpy_verify.py: %s: malformed line %r\n" % (path, line))
                sys.exit(2)
            keys[parts[0].lower().rstrip(b".")] = parts[1]
    return keys


def text(b):
    return b.decode("ascii", "replace") if isinstance(b, bytes) else str(b)


def verify_message(path, keys, require):
    try:
        with open(path, "rb") as f:
            msg = f.read()
    except OSError as e:
        sys.stderr.write("dkimpy_verify.py: %s: %s\n" % (path, e))
        return 2

    def dnsfunc(name, timeout=5):
        return keys.get(name.lower().rstrip(b"."))

    logger = logging.getLogger("dkimpy_verify")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _Collect()
    logger.handlers = [handler]

    try:
        d = dkim.DKIM(msg, logger=logger)
    except dkim.DKIMException as e:
        print("%s - - - fail cannot parse message: %s" % (path, e))
        return 1
    count = len([1 for name, _ in d.headers if name.lower() == b"dkim-signature"])
    if count == 0:
        print("%s - - - fail no signature" % path)
        return 1
    passed = 0
    failed = 0
    for i in range(count):
        handler.messages = []
        d.domain = None
        d.selector = None
        d.signature_fields = {}
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
            reason = "ok" if ok else "; ".join(handler.messages) or "signature mismatch"
        except dkim.DKIMException as e:
            ok = False
            reason = "%s: %s" % (type(e).__name__, e)
        fields = d.signature_fields or {}
        print("%s d=%s s=%s a=%s %s %s" % (
            path,
            text(fields.get(b"d", b"-")),
            text(fields.get(b"s", b"-")),
            text(fields.get(b"a", b"-")),
            "pass" if ok else "fail",
            reason.replace("\n", " ")))
        if ok:
            passed += 1
        else:
            failed += 1
    if failed:
        return 1
    if require is not None and passed != require:
        print("%s: %d passing signatures, %d required" % (path, passed, require))
        return 1
    return 0


def main(argv):
    keys_path = None
    require = None
    i = 1
    while i < len(argv) and argv[i].startswith("--"):
        if argv[i] == "--keys" and i + 1 < len(argv):
            keys_path = argv[i + 1]
        elif argv[i] == "--require" and i + 1 < len(argv):
            try:
                require = int(argv[i + 1])
            except ValueError:
                usage()
            if require < 0:
                usage()
        else:
            usage()
        i += 2
    files = argv[i:]
    if keys_path is None or not files:
        usage()
    try:
        keys = load_keys(keys_path)
    except OSError as e:
        sys.stderr.write("dkimpy_verify.py: %s: %s\n" % (keys_path, e))
        return 2
    rc = 0
    for path in files:
        rc = max(rc, verify_message(path, keys, require))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
