"""Loopback DNS for end-to-end tests: dnsmasq (Debian package dnsmasq-base) on 127.0.0.1 at a free port.

It answers only the records given. Other names under a served zone are NXDOMAIN; a zone is every
record's parent domain (its last two labels: "sel._domainkey.example.com" -> "example.com") plus
the `zones` argument ("test" by default). Names elsewhere are REFUSED (there is no upstream).

    with LoopbackDns() as dns:
        dns.txt("sel._domainkey.example.com", record).mx("example.com", "mx.example.com", 10)
        dns.start()
        config["dns_servers"] = dns.address          # "127.0.0.1:PORT"

TXT values longer than 255 bytes are split into 255-byte character-strings of one record (as a DKIM
RSA-2048 key must be); a list gives the strings explicitly. They reach dnsmasq as raw RDATA
(--dns-rr=NAME,16,HEX), because on a command line --txt-record splits at every comma and keeps
quotes literally. All records get the TTL `ttl` (dnsmasq's --local-ttl; its own default is 0).
Records added after start() are served after the next start(), which restarts on the same port.
Stdlib only; run this file for a self-test.
"""
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time

DNSMASQ = "/usr/sbin/dnsmasq"

TYPE_A = 1
TYPE_MX = 15
TYPE_TXT = 16


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check_name(name):
    if not name or any(c in name for c in ",/#\n\r\0 \t") or len(name) > 253:
        raise ValueError(f"unusable DNS name for dnsmasq: {name!r}")
    return name.rstrip(".")


def _to_bytes(value):
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


class LoopbackDns:
    def __init__(self, zones=("test",), ttl=300, dnsmasq=DNSMASQ):
        self.zones = [_check_name(z) for z in zones]
        self.ttl = int(ttl)
        self.dnsmasq = dnsmasq
        self.port = None
        self.proc = None
        self._records = []  # dnsmasq options, in order
        self._tmpdir = None

    # ---- records

    def txt(self, name, value):
        """A TXT record. `value`: str/bytes (split into 255-byte strings) or a list of strings."""
        name = _check_name(name)
        if isinstance(value, (list, tuple)):
            strings = [_to_bytes(v) for v in value]
            if any(len(s) > 255 for s in strings):
                raise ValueError("a TXT character-string holds at most 255 bytes")
        else:
            data = _to_bytes(value)
            strings = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        rdata = b"".join(bytes([len(s)]) + s for s in strings)
        self._records.append((name, f"--dns-rr={name},{TYPE_TXT}" + (f",{rdata.hex()}" if rdata else "")))
        return self

    def mx(self, domain, host, pref=10):
        domain, host = _check_name(domain), _check_name(host)
        self._records.append((domain, f"--mx-host={domain},{host},{int(pref)}"))
        return self

    def a(self, name, ip):
        """An A record (also makes the name exist, so other types get NODATA instead of NXDOMAIN)."""
        name = _check_name(name)
        socket.inet_aton(ip)
        self._records.append((name, f"--host-record={name},{ip}"))
        return self

    # ---- process

    @property
    def address(self):
        """"127.0.0.1:PORT", as Rampart's dns_servers takes it."""
        if self.port is None:
            raise RuntimeError("LoopbackDns is not started")
        return f"127.0.0.1:{self.port}"

    def _zones(self):
        zones = list(self.zones)
        for name, _ in self._records:
            labels = name.split(".")
            zone = ".".join(labels[-2:])
            if zone not in zones:
                zones.append(zone)
        return zones

    def _command(self):
        cmd = [self.dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
               "--conf-file=/dev/null", "--listen-address=127.0.0.1", "--bind-interfaces",
               f"--port={self.port}", "--pid-file=", "--log-facility=-", f"--local-ttl={self.ttl}"]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        cmd += [f"--local=/{z}/" for z in self._zones()]
        cmd += [opt for _, opt in self._records]
        return cmd

    def log(self):
        try:
            with open(os.path.join(self._tmpdir, "dnsmasq.log"), errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def start(self, timeout=10):
        """Starts dnsmasq (restarts it, on the same port, when running). Returns self."""
        if not os.access(self.dnsmasq, os.X_OK):
            raise RuntimeError(f"{self.dnsmasq} is missing: install dnsmasq-base (loopback DNS for the tests)")
        keep_port = self.proc is not None
        self._kill()
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="rampart-dns-")
        last = ""
        for _ in range(8):
            if not keep_port:
                self.port = _free_udp_port()
            with open(os.path.join(self._tmpdir, "dnsmasq.log"), "wb") as logf:
                self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=subprocess.STDOUT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    query("rampart-probe." + self.zones[0] if self.zones else "rampart-probe.test",
                          TYPE_A, port=self.port, timeout=0.05, tcp_fallback=False)
                    return self
                except (OSError, TimeoutError):
                    pass
            last = f"exit status {self.proc.poll()}: {self.log()}"
            self._kill()
            if keep_port:
                time.sleep(0.2)  # the old process's port may still be in use
        raise RuntimeError(f"dnsmasq did not start: {last}")

    def _kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    def stop(self):
        self._kill()
        self.port = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---- a minimal DNS client (stdlib), for the self-test and for tests that check what is served

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def _read_name(msg, off):
    """(name, offset after the name); follows compression pointers, bounded."""
    labels, jumps, end = [], 0, None
    while True:
        if off >= len(msg):
            raise ValueError("truncated name")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg) or jumps > 64:
                raise ValueError("bad compression pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            continue
        if n & 0xC0:
            raise ValueError("bad label type")
        if n == 0:
            return ".".join(labels), (end if end is not None else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def _exchange_tcp(packet, port, timeout):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">H", len(packet)) + packet)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                raise ValueError("TCP answer cut short")
            data += chunk
        return data[2:2 + struct.unpack(">H", data[:2])[0]]


def query(name, qtype, port, timeout=2.0, tcp_fallback=True):
    """Asks 127.0.0.1:port. Returns (rcode name, records): TXT records as bytes (strings joined),
    MX records as (preference, host), others as raw RDATA; truncated UDP answers are retried over TCP."""
    qid = random.randrange(65536)
    qname = b"".join(bytes([len(l)]) + l.encode("ascii") for l in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        while True:
            msg, _ = s.recvfrom(65535)
            if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                break
    flags = struct.unpack(">H", msg[2:4])[0]
    if flags & 0x0200 and tcp_fallback:
        msg = _exchange_tcp(packet, port, timeout)
        flags = struct.unpack(">H", msg[2:4])[0]
    qd, an = struct.unpack(">HH", msg[4:8])
    off = 12
    for _ in range(qd):
        _, off = _read_name(msg, off)
        off += 4
    records = []
    for _ in range(an):
        _, off = _read_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if rtype == TYPE_TXT and rtype == qtype:
            out, p = b"", 0
            while p < len(rdata):
                out += rdata[p + 1:p + 1 + rdata[p]]
                p += 1 + rdata[p]
            records.append(out)
        elif rtype == TYPE_MX and rtype == qtype:
            records.append((struct.unpack(">H", rdata[:2])[0], _read_name(msg, off + 2)[0]))
        elif rtype == qtype:
            records.append(rdata)
        off += rdlen
    return RCODES.get(flags & 0xF, str(flags & 0xF)), records


def _self_test():
    long_value = "v=DKIM1; k=rsa; p=" + "A" * 700  # > 512 bytes: answered over TCP after truncation
    with LoopbackDns() as dns:
        dns.txt("sel._domainkey.example.com", long_value)
        dns.txt("multi.test", ["v=spf1 ", "-all"]).txt("multi.test", "second, with comma")
        dns.mx("example.com", "mx2.example.com", 20).mx("example.com", "mx1.example.com", 10)
        dns.start()
        print(f"dnsmasq answering on {dns.address}")
        rcode, recs = query("sel._domainkey.example.com", TYPE_TXT, dns.port)
        assert rcode == "NOERROR" and recs == [long_value.encode()], (rcode, recs)
        rcode, recs = query("multi.test", TYPE_TXT, dns.port)
        assert rcode == "NOERROR" and sorted(recs) == [b"second, with comma", b"v=spf1 -all"], (rcode, recs)
        rcode, recs = query("example.com", TYPE_MX, dns.port)
        assert rcode == "NOERROR" and sorted(recs) == [(10, "mx1.example.com"), (20, "mx2.example.com")], recs
        assert query("other._domainkey.example.com", TYPE_TXT, dns.port)[0] == "NXDOMAIN"
        assert query("nothing.test", TYPE_TXT, dns.port)[0] == "NXDOMAIN"
        assert query("example.org", TYPE_TXT, dns.port)[0] == "REFUSED"
        if shutil.which("dig"):
            out = subprocess.run(["dig", "+short", "-p", str(dns.port), "@127.0.0.1", "example.com", "MX"],
                                 capture_output=True, text=True, check=True).stdout
            assert "mx1.example.com." in out, out
            print("dig agrees")
        # Records added later are served after a restart on the same port.
        port = dns.port
        dns.txt("late.test", "added later").start()
        assert dns.port == port
        assert query("late.test", TYPE_TXT, dns.port) == ("NOERROR", [b"added later"])
    assert dns.proc is None
    print("dnsmasq.py self-test: OK")


if __name__ == "__main__":
    _self_test()
