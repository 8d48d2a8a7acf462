#!/usr/bin/python3
"""rampart-policyd as a daemon, driven over its sockets: Postfix-style persistent connections and
Exim-style one-shot requests, garbage that closes only its own connection, 32 parallel connections on
one scope (never past the cap, exactly), kill -9 under load (every answered permit still counted after
a restart), reload of a changed cap, providers from MX records on a loopback DNS server, the control
socket and rampartctl; the bounds on untrusted clients (Rampart issue 9): pipelining and split requests
keep the daemon's memory flat, a trickling request is closed at policyd_request_timeout, and
policyd_max_connections_per_peer."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rampart_testlib import env, daemons, policy  # noqa: E402
from rampart_testlib.dnsmasq import LoopbackDns  # noqa: E402

LIMITS = """\
[per-mailbox]
scope = mailbox
when  = sender_domain not in bulk.test, load.test
cap   = 5/day

[google]
scope = sender_domain, provider
when  = provider = google
cap   = 3/day

[bulk]
scope = sender_domain
when  = sender_domain = bulk.test
cap   = 100/day

[load]
scope = sender_domain
when  = sender_domain = load.test
cap   = 1000000/day
"""


class PolicyDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env.require_root()
        env.rampart_account()
        cls.tmp = env.make_tmpdir("rampart-e2e-policyd-")
        cls.dns = LoopbackDns(zones=("test",))
        cls.dns.mx("corp-on-google.test", "aspmx.l.google.com", 1)
        cls.dns.mx("corp-on-google.test", "alt1.aspmx.l.google.com", 5)
        cls.dns.mx("mixed.test", "aspmx.l.google.com", 1)
        cls.dns.mx("mixed.test", "mx.other.test", 5)
        cls.dns.start()
        cls.sock = os.path.join(cls.tmp, "run", "policy.sock")
        cls.ctl = os.path.join(cls.tmp, "run", "control.sock")
        cls.port = env.free_port()
        cls.limits = os.path.join(cls.tmp, "limits.conf")
        cls.conf = os.path.join(cls.tmp, "rampart.conf")
        cls.store = os.path.join(cls.tmp, "state")

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        env.cleanup_tmpdir(cls.tmp)

    def setUp(self):
        with open(self.limits, "w") as f:
            f.write(LIMITS)
        subprocess.run(["rm", "-rf", self.store])
        self.settings = {
            "policyd_listen": f"unix:{self.sock}, inet:127.0.0.1:{self.port}",
            "policyd_control_socket": f"unix:{self.ctl}",
            "policyd_limits": self.limits,
            "policyd_store": f"journal:{self.store}",
            "policyd_pid_file": "",
            "dns_servers": self.dns.address,
            "policyd_mx_timeout": "2s",
            "log_level": "info",
        }
        daemons.write_config(self.conf, self.settings)
        self.d = daemons.Daemon("rampart-policyd", self.conf, os.path.join(self.tmp, f"policyd-{time.time_ns()}.log"))
        self.d.start(wait_unix=self.sock)

    def tearDown(self):
        if self.d.running():
            self.assertEqual(self.d.stop(), 0, self.d.log())

    def addr(self):
        return "unix:" + self.sock

    def send_message(self, conn, sender, rcpt, n):
        inst = f"inst-{sender}-{n}-{time.time_ns()}"
        a = conn.ask(policy.rcpt(sender, rcpt, inst))
        if a == "DUNNO":
            self.assertEqual(conn.ask(policy.eom(inst, f"Q{n}{time.time_ns() % 100000}")), "DUNNO")
        return a

    # ------------------------------------------------------------------ protocol
    def test_persistent_and_one_shot_connections_share_the_counts(self):
        with policy.Connection(self.addr()) as c:
            answers = [self.send_message(c, "ann@acme.test", f"r{i}@example.test", i) for i in range(3)]
        # Exim style: one connection per request, half-close, the daemon answers and closes.
        for i in range(3, 6):
            inst = f"exim-{i}"
            answers.append(policy.one_shot(self.addr(), policy.rcpt("ann@acme.test", f"r{i}@example.test", inst)))
            if answers[-1] == "DUNNO":
                self.assertEqual(policy.one_shot(self.addr(), policy.eom(inst, f"E{i}")), "DUNNO")
        self.assertEqual(answers[:5], ["DUNNO"] * 5)
        self.assertRegex(answers[5], r"^DEFER_IF_PERMIT 4\.7\.1 rampart: mailbox ann@acme\.test reached cap 5/day "
                                     r"\(limit per-mailbox\); retry after \d{4}-\d\d-\d\d 00:00 UTC$")
        # inet listener too
        with policy.Connection(f"inet:127.0.0.1:{self.port}") as c:
            self.assertTrue(c.ask(policy.rcpt("ann@acme.test", "x@example.test", "i9")).startswith("DEFER_IF_PERMIT"))

    def test_garbage_closes_only_that_connection(self):
        good = policy.Connection(self.addr())
        self.assertEqual(good.ask(policy.rcpt("bob@acme.test", "a@example.test", "g1")), "DUNNO")
        for junk in (b"GET / HTTP/1.0\r\n\r\n", b"a=b\x00c\n\n", b"x=" + b"y" * 20000 + b"\n\n",
                     b"".join(b"k%d=v\n" % i for i in range(500)) + b"\n", b"\n", b"request=bogus\n\n"):
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.sock)
            s.sendall(junk)
            s.settimeout(10)
            self.assertEqual(s.recv(100), b"", f"the daemon answered garbage {junk[:30]!r}")
            s.close()
        # the persistent connection and the daemon are fine
        self.assertEqual(good.ask(policy.rcpt("bob@acme.test", "b@example.test", "g2")), "DUNNO")
        good.close()
        log = self.d.log()
        self.assertIn("garbage from unix#", log)
        self.assertIn("not a name=value line", log)
        self.assertIn("NUL byte", log)
        self.assertIn("request longer than 16384 bytes", log)
        self.assertIn("more than 200 attributes", log)
        self.assertIn("unknown request \"bogus\"", log)

    def test_half_request_then_eof_is_ignored(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n")
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        self.assertEqual(s.recv(100), b"")
        self.d.wait_log("closed in the middle of a request")

    # ------------------------------------------------------------------ providers
    def test_provider_from_table_and_from_mx(self):
        with policy.Connection(self.addr()) as c:
            a = [self.send_message(c, f"m{i}@acme.test", r, i) for i, r in enumerate(
                ["x@gmail.com", "y@corp-on-google.test", "z@googlemail.com", "w@corp-on-google.test"])]
            # mixed.test has one non-Google MX: not google, the domain stands in.
            a.append(self.send_message(c, "m9@acme.test", "v@mixed.test", 9))
        self.assertEqual(a[:3], ["DUNNO"] * 3)
        self.assertIn("rampart: sender_domain acme.test, provider google reached cap 3/day (limit google)", a[3])
        self.assertEqual(a[4], "DUNNO")
        self.assertIn("mx: lookups=", self.stats())

    def test_dns_failure_lets_the_domain_stand_in(self):
        self.d.stop()
        self.settings["dns_servers"] = f"127.0.0.1:{env.free_port()}"  # nobody answers
        self.settings["policyd_mx_timeout"] = "1s"
        daemons.write_config(self.conf, self.settings)
        self.d.start(wait_unix=self.sock)
        t0 = time.monotonic()
        with policy.Connection(self.addr()) as c:
            self.assertEqual(self.send_message(c, "dns@acme.test", "a@corp-on-google.test", 1), "DUNNO")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertRegex(self.stats(), r"timeouts=1|failures=1")

    def stats(self):
        out = policy.control(self.ctl, "stats")
        self.assertTrue(out.startswith("ok\n"), out)
        return out

    # ------------------------------------------------------------------ concurrency
    def test_32_parallel_connections_never_exceed_the_cap(self):
        permits, errors = [], []
        lock = threading.Lock()

        def worker(w):
            try:
                with policy.Connection(self.addr()) as c:
                    for n in range(10):
                        inst = f"w{w}-{n}"
                        a = c.ask(policy.rcpt("blast@bulk.test", f"r{w}-{n}@example.test", inst,
                                              sasl_username=f"user{w}"))
                        if a == "DUNNO":
                            with lock:
                                permits.append(inst)
                            c.ask(policy.eom(inst, f"Q{w}x{n}"))
                        else:
                            self.assertIn("reached cap 100/day (limit bulk)", a)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(permits), 100)  # 320 attempts, exactly the cap
        rows = json.loads(policy.control(self.ctl, "status\tsender_domain=bulk.test").split("\n", 1)[1])["scopes"]
        self.assertEqual([(r["limit"], r["count"], r["reserved"]) for r in rows], [("bulk", 100, 0)])

    # ------------------------------------------------------------------ durability
    def test_kill_9_under_load_keeps_every_answered_permit(self):
        answered, stop = [], threading.Event()
        lock = threading.Lock()

        def worker(w):
            try:
                with policy.Connection(self.addr()) as c:
                    n = 0
                    while not stop.is_set():
                        inst = f"k{w}-{n}"
                        a = c.ask(policy.rcpt(f"load{w}@load.test", f"r{n}@example.test", inst))
                        if a == "DUNNO":
                            with lock:
                                answered.append(inst)
                            # Committed unless the kill comes first: then this permit is an open
                            # reservation, which must survive too. (A new instance on the same
                            # connection would release an uncommitted one, as Postfix implies.)
                            c.ask(policy.eom(inst, f"K{w}x{n}"))
                        n += 1
            except (ConnectionError, OSError, AssertionError):
                pass  # the daemon died under us: that is the point

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        env.wait_for(lambda: len(answered) >= 3000, timeout=60, what="3000 permits")
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        with lock:
            permits = len(answered)
        self.assertGreaterEqual(permits, 3000)
        self.d.start(wait_unix=self.sock)
        rows = json.loads(policy.control(self.ctl, "status\tsender_domain=load.test").split("\n", 1)[1])["scopes"]
        counted = sum(r["count"] for r in rows)
        # Every answered permit is counted (committed or still reserved); at most the requests in
        # flight at the kill (one per connection) may be counted without their answer having arrived.
        self.assertGreaterEqual(counted, permits, self.d.log()[-2000:])
        self.assertLessEqual(counted, permits + 8)
        print(f"kill -9 after {permits} answered permits: {counted} counted after restart")
        self.assertIn("state loaded from", self.d.log())

    # ------------------------------------------------------------------ operations
    def test_reload_applies_a_changed_cap_to_todays_count(self):
        with policy.Connection(self.addr()) as c:
            for i in range(4):
                self.assertEqual(self.send_message(c, "rel@acme.test", f"r{i}@example.test", i), "DUNNO")
        with open(self.limits, "w") as f:
            f.write(LIMITS.replace("cap   = 5/day", "cap   = 3/day"))
        offset = self.d.log_size()
        self.d.hup()
        self.d.wait_log("reloaded: 4 limits", after=offset)
        with policy.Connection(self.addr()) as c:
            self.assertIn("reached cap 3/day", self.send_message(c, "rel@acme.test", "r9@example.test", 9))
        # a broken limits file is refused with file:line and the running limits stay
        with open(self.limits, "a") as f:
            f.write("[broken]\nscope = planet\ncap = 1/day\n")
        offset = self.d.log_size()
        self.d.hup()
        line = self.d.wait_log("limits.conf:", after=offset)
        self.assertIn("planet", line)
        self.d.wait_log("reload failed", after=offset)
        with policy.Connection(self.addr()) as c:
            self.assertIn("reached cap 3/day", self.send_message(c, "rel@acme.test", "r10@example.test", 10))

    def test_operator_pause_resume_reset_via_rampartctl(self):
        ctl = lambda *a: daemons.rampartctl(*a, config=self.conf, check=False)  # noqa: E731
        r = ctl("pause", "sender_domain=acme.test", "--reason", "blocked at Gmail")
        self.assertEqual(r.returncode, 0, r.stderr)
        with policy.Connection(self.addr()) as c:
            a = self.send_message(c, "p@acme.test", "x@example.test", 1)
        self.assertIn("rampart: sender_domain acme.test paused by admin", a)
        self.assertIn("blocked at Gmail", a)
        self.assertIn("paused sender_domain=acme.test by root: blocked at Gmail", self.d.log())
        self.assertEqual(ctl("resume", "sender_domain=acme.test").returncode, 0)
        with policy.Connection(self.addr()) as c:
            for i in range(5):
                self.assertEqual(self.send_message(c, "p@acme.test", f"x{i}@example.test", i), "DUNNO")
            self.assertIn("reached cap 5/day", self.send_message(c, "p@acme.test", "y@example.test", 7))
        table = ctl("status", "mailbox=p@acme.test")
        self.assertRegex(table.stdout, r"per-mailbox\s+mailbox=p@acme\.test\s+5\s+5/day")
        self.assertEqual(ctl("reset", "mailbox=p@acme.test", "--reason", "new quota").returncode, 0)
        self.assertIn("reset mailbox=p@acme.test by root: new quota", self.d.log())
        with policy.Connection(self.addr()) as c:
            self.assertEqual(self.send_message(c, "p@acme.test", "z@example.test", 8), "DUNNO")
        r = ctl("pause", "planet=mars")
        self.assertEqual(r.returncode, 2)

    def test_status_and_changes_work_with_the_daemon_stopped(self):
        with policy.Connection(self.addr()) as c:
            self.assertEqual(self.send_message(c, "off@acme.test", "x@example.test", 1), "DUNNO")
        self.assertEqual(self.d.stop(), 0)
        r = daemons.rampartctl("status", "--json", config=self.conf)
        rows = json.loads(r.stdout)["scopes"]
        self.assertIn(("per-mailbox", "mailbox=off@acme.test", 1), [(x["limit"], x["scope"], x["count"]) for x in rows])
        r = daemons.rampartctl("pause", "mailbox=off@acme.test", "--reason", "offline change", config=self.conf)
        self.assertIn("rampart-policyd is not running", r.stdout)
        self.d.start(wait_unix=self.sock)
        with policy.Connection(self.addr()) as c:
            self.assertIn("paused by admin", self.send_message(c, "off@acme.test", "y@example.test", 2))

    def test_refund_request_gives_the_slot_back(self):
        with policy.Connection(self.addr()) as c:
            qids = []
            for i in range(5):
                inst = f"rf{i}"
                self.assertEqual(c.ask(policy.rcpt("ref@acme.test", f"r{i}@example.test", inst)), "DUNNO")
                c.ask(policy.eom(inst, f"REFQ{i}"))
                qids.append(f"REFQ{i}")
            self.assertIn("reached cap", c.ask(policy.rcpt("ref@acme.test", "late@example.test", "rf9")))
            self.assertEqual(c.ask({"request": "rampart_refund", "queue_id": "REFQ2"}), "OK refunded 1 recipient of REFQ2")
            self.assertTrue(c.ask({"request": "rampart_refund", "queue_id": "REFQ2"}).startswith("DUNNO"))
            self.assertTrue(c.ask({"request": "rampart_refund", "queue_id": "NOSUCH"}).startswith("DUNNO"))
            self.assertEqual(c.ask(policy.rcpt("ref@acme.test", "late@example.test", "rf10")), "DUNNO")

    def test_an_instance_reused_by_another_sender_steals_no_slot(self):
        # END-OF-MESSAGE of sender B must not commit sender A's reservation (and release B's) because
        # a client reused the instance: an RCPT of another sender ends A's transaction. Found with
        # policyload, whose untimed warm-up request shares its instance with the first measured one.
        with policy.Connection(self.addr()) as c:
            self.assertEqual(c.ask(policy.rcpt("warm@acme.test", "same@example.test", "dup")), "DUNNO")
            for i in range(5):
                inst = "dup" if i == 0 else f"dup{i}"
                self.assertEqual(c.ask(policy.rcpt("real@acme.test", "same@example.test", inst)), "DUNNO")
                self.assertEqual(c.ask(policy.eom(inst, f"DQ{i}", recipient="same@example.test")), "DUNNO")
            self.assertIn("reached cap 5/day", c.ask(policy.rcpt("real@acme.test", "x@example.test", "dup9")))
        rows = json.loads(policy.control(self.ctl, "status\tmailbox=real@acme.test").split("\n", 1)[1])["scopes"]
        self.assertEqual([(r["count"], r["reserved"]) for r in rows], [(5, 0)])

    def test_monitor_only_counts_and_logs_but_never_defers(self):
        self.d.stop()
        self.settings["policyd_monitor_only"] = "yes"
        daemons.write_config(self.conf, self.settings)
        self.d.start(wait_unix=self.sock)
        with policy.Connection(self.addr()) as c:
            answers = [self.send_message(c, "mon@acme.test", f"r{i}@example.test", i) for i in range(7)]
        self.assertEqual(answers, ["DUNNO"] * 7)
        self.assertIn("would defer (monitor only): from=<mon@acme.test>", self.d.log())
        self.assertIn("reached cap 5/day", self.d.log())

    # ------------------------------------------------------------------ bounds on clients (issue 9)
    def restart_with(self, **settings):
        self.d.stop()
        self.settings.update(settings)
        daemons.write_config(self.conf, self.settings)
        self.d.start(wait_unix=self.sock)

    def rss_kb(self):
        with open(f"/proc/{self.d.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def test_pipelining_and_split_requests_keep_memory_flat(self):
        # A CONNECT request changes no state (DUNNO); 2 KB of an ignored attribute make each big.
        req = policy.encode({"request": "smtpd_access_policy", "protocol_state": "CONNECT",
                             "client_address": "192.0.2.1", "x_padding": "p" * 2048})
        with policy.Connection(self.addr()) as c:
            self.assertEqual(self.send_message(c, "base@acme.test", "b@example.test", 0), "DUNNO")
        baseline = self.rss_kb()
        peak, done = [baseline], threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], self.rss_kb())
                time.sleep(0.05)

        # 1. sends 30000 requests (64 MB) and never reads a reply
        pipelined = {"sent": 0}
        pipeliner = socket.socket(socket.AF_UNIX)
        pipeliner.connect(self.sock)

        def pipeline():
            pipeliner.settimeout(3)
            batch = req * 100
            try:
                for _ in range(300):
                    pipeliner.sendall(batch)
                    pipelined["sent"] += len(batch)
            except OSError:  # socket.timeout: the daemon stopped reading it, as it should
                pass

        # 2. a request stream in 997-byte writes (never on a request boundary), replies read
        split = {"replies": 0, "requests": 6000}
        splitter = socket.socket(socket.AF_UNIX)
        splitter.connect(self.sock)
        splitter.settimeout(30)

        def split_send():
            stream = req * split["requests"]
            for i in range(0, len(stream), 997):
                splitter.sendall(stream[i:i + 997])

        def split_read():
            buf = b""
            while split["replies"] < split["requests"]:
                d = splitter.recv(65536)
                if not d:
                    return
                buf += d
                n = buf.count(b"action=DUNNO\n\n")
                split["replies"] += n
                buf = buf[n * len(b"action=DUNNO\n\n"):]

        threads = [threading.Thread(target=f) for f in (sample, pipeline, split_send, split_read)]
        for t in threads:
            t.start()
        # 3. a client sending its requests in 1-byte writes, and a normal client: both served meanwhile
        trickle = policy.Connection(self.addr())
        for i in range(3):
            for b in policy.encode(policy.rcpt("tr@acme.test", f"t{i}@example.test", f"tr{i}")):
                trickle.sock.send(bytes([b]))
            self.assertEqual(trickle.read_reply(), "DUNNO")
        trickle.close()
        t0 = time.monotonic()
        with policy.Connection(self.addr()) as c:
            self.assertEqual(self.send_message(c, "normal@acme.test", "n@example.test", 1), "DUNNO")
        self.assertLess(time.monotonic() - t0, 5)
        for t in threads[1:]:
            t.join(60)
        done.set()
        threads[0].join()
        self.assertEqual(split["replies"], split["requests"])
        total = 30000 * len(req)
        # Reading stopped once its unread replies passed policyd_max_pending_replies: far less than
        # all of it got into the daemon (the kernel's socket buffers hold a few MB at most).
        self.assertLess(pipelined["sent"], total)
        grown = peak[0] - baseline
        print(f"RSS {baseline} kB at start, peak {peak[0]} kB (+{grown} kB); pipeliner got "
              f"{pipelined['sent'] // 1024} of {total // 1024} kB in; {split['requests']} split requests "
              f"({split['requests'] * len(req) // 1024} kB) answered")
        self.assertLess(grown, 20 * 1024, "the daemon's memory grew with what clients sent")
        pipeliner.close()
        splitter.close()
        self.assertNotIn("garbage", self.d.log())

    def test_a_trickling_request_is_closed_at_the_request_timeout(self):
        self.restart_with(policyd_request_timeout="2s")
        idle = policy.Connection(self.addr())  # between requests: policyd_idle_timeout, not 2s
        self.assertEqual(idle.ask(policy.rcpt("idle@acme.test", "a@example.test", "id1")), "DUNNO")
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        data = policy.encode(policy.rcpt("slow@acme.test", "s@example.test", "sl1"))
        t0, closed = time.monotonic(), False
        for b in data:  # one byte every 0.5 s: the whole request would take over a minute
            try:
                s.send(bytes([b]))
                s.settimeout(0.5)
                if s.recv(100) == b"":
                    closed = True
            except socket.timeout:
                pass
            except OSError:  # reset, broken pipe: closed too
                closed = True
            if closed:
                break
        elapsed = time.monotonic() - t0
        s.close()
        self.assertTrue(closed, "the trickling client was never closed")
        self.assertGreaterEqual(elapsed, 1.5)
        self.assertLess(elapsed, 5)
        print(f"trickling client closed after {elapsed:.1f}s (policyd_request_timeout=2s)")
        self.d.wait_log("no complete request within policyd_request_timeout (2s) of its first byte; closing")
        # the connection idle for longer than 2s between requests is still served
        self.assertEqual(idle.ask(policy.rcpt("idle@acme.test", "b@example.test", "id2")), "DUNNO")
        idle.close()
        self.assertIn("request_timeouts=1", self.stats())

    def test_connections_per_peer_are_limited(self):
        self.restart_with(policyd_max_connections_per_peer="3")
        inet = f"inet:127.0.0.1:{self.port}"
        conns = [policy.Connection(inet) for _ in range(3)]
        for i, c in enumerate(conns):
            self.assertEqual(c.ask(policy.rcpt("peer@acme.test", f"p{i}@example.test", f"pp{i}")), "DUNNO")
        fourth = socket.create_connection(("127.0.0.1", self.port))
        fourth.settimeout(5)
        try:
            self.assertEqual(fourth.recv(100), b"", "a 4th connection from 127.0.0.1 was kept")
        except ConnectionResetError:
            pass
        fourth.close()
        self.d.wait_log("policyd_max_connections_per_peer (3) reached by 127.0.0.1; closed 1 new connection")
        # the first three are still served; unix clients are another peer (their uid)
        for i, c in enumerate(conns):
            self.assertEqual(c.ask(policy.rcpt("peer@acme.test", f"q{i}@example.test", f"pq{i}")), "DUNNO")
        with policy.Connection(self.addr()) as u:
            self.assertEqual(u.ask(policy.rcpt("peer2@acme.test", "u@example.test", "pu")), "DUNNO")
        self.assertIn("refused_per_peer=1", self.stats())
        # a closed connection frees its slot (the daemon sees the close a moment later)
        conns.pop().close()

        def fourth_served():
            try:
                with policy.Connection(inet) as c:
                    return c.ask(policy.rcpt("peer@acme.test", "r@example.test", "pr")) == "DUNNO"
            except (ConnectionError, OSError):
                return False

        env.wait_for(fourth_served, timeout=10, what="a connection in the freed slot")
        for c in conns:
            c.close()

    def test_check_config_reports_limits_errors_with_file_and_line(self):
        bad = os.path.join(self.tmp, "bad-limits.conf")
        with open(bad, "w") as f:
            f.write("[a]\nscope = mailbox\ncap = 40/fortnight\n[b]\nscope = mailbox\nrate = 8/h burst x\n")
        daemons.write_config(os.path.join(self.tmp, "bad.conf"), {**self.settings, "policyd_limits": bad})
        r = env.run([env.binary("rampart-policyd"), "-c", os.path.join(self.tmp, "bad.conf"), "--check-config"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{bad}:3:", r.stderr)
        self.assertIn(f"{bad}:6:", r.stderr)
        r = env.run([env.binary("rampart-policyd"), "-c", self.conf, "--check-config"])
        self.assertIn("configuration OK; 4 limits", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
