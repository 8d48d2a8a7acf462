#!/usr/bin/python3
"""rampart-milter behind a real Postfix: messages submitted with swaks through a private loopback
Postfix are signed, relayed to a sink and verified by two independent verifiers (libopendkim and
dkimpy). Mail that cannot be signed aligned is not delivered; with the milter down nothing is
delivered and the client's retry is signed once it is back."""
import os
import re
import shutil
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rampart_testlib import env, daemons  # noqa: E402
from rampart_testlib.postfix import PrivatePostfix, swaks  # noqa: E402
from rampart_testlib.sink import SmtpSink  # noqa: E402


def message(sender, to="Bob <bob@remote.test>", subject="Hello", body="Hi Bob,\nthis is a test.\n", extra=""):
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: Sun, 22 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{time.time_ns()}@rampart.test>\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\n{extra}\n{body}")


class MilterBehindPostfix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env.require_root()
        env.rampart_account()
        cls.tmp = env.make_tmpdir("rampart-e2e-milter-")
        cls.keydir = os.path.join(cls.tmp, "keys")
        os.makedirs(cls.keydir, mode=0o755)
        cls.records = {}
        cls.keys = {}
        for domain, sel, typ in [("example.com", "rsa1", "rsa"), ("example.com", "ed1", "ed25519"),
                                 ("brand.test", "b1", "rsa"), ("esp.test", "esp1", "ed25519")]:
            path, rec = daemons.make_key(cls.keydir, domain, sel, typ)
            cls.keys[(domain, sel)] = path
            cls.records[f"{sel}._domainkey.{domain}"] = rec
        cls.keytable = os.path.join(cls.tmp, "key.table")
        with open(cls.keytable, "w") as f:
            for (domain, sel), path in cls.keys.items():
                f.write(f"{sel}-{domain} {domain}:{sel}:{path}\n")
        cls.signingtable = os.path.join(cls.tmp, "signing.table")
        with open(cls.signingtable, "w") as f:
            f.write("# From pattern      key name\n"
                    "*@example.com       rsa1-example.com\n"
                    "*@example.com       ed1-example.com\n"
                    "*@news.example.com  rsa1-example.com\n"
                    "*@brand.test        b1-brand.test\n"
                    "*@brand.test        esp1-esp.test\n"
                    "*@unaligned.test    esp1-esp.test\n")
        cls.keysfile = daemons.write_keys_file(os.path.join(cls.tmp, "verify.keys"), cls.records)
        cls.sink = SmtpSink(os.path.join(cls.tmp, "sink")).start()
        cls.sock = os.path.join(cls.tmp, "run", "milter.sock")
        cls.conf = os.path.join(cls.tmp, "rampart.conf")
        cls.settings = {
            "milter_listen": f"unix:{cls.sock}",
            "milter_pid_file": "",
            "milter_internal_networks": "",
            "milter_originating_daemon_names": "ORIGINATING",
            "dkim_key_table": f"file:{cls.keytable}",
            "dkim_signing_table": f"refile:{cls.signingtable}",
            "dkim_key_dns_check": "off",
            "log_level": "info",
        }
        daemons.write_config(cls.conf, cls.settings)
        cls.milter = daemons.Daemon("rampart-milter", cls.conf, os.path.join(cls.tmp, "milter.log"))
        cls.milter.start(wait_unix=cls.sock)
        cls.submit_port, cls.mx_port = env.free_port(), env.free_port()
        cls.postfix = PrivatePostfix(cls.tmp, cls.sink.port, milter_socket=cls.sock, listeners={
            "submission": (cls.submit_port, {"milter_macro_daemon_name": "ORIGINATING"}),
            "mx": (cls.mx_port, {}),
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.postfix.stop()
        rc = cls.milter.stop()
        cls.sink.stop()
        if rc not in (0, None):
            print(cls.milter.log())
        env.cleanup_tmpdir(cls.tmp)

    def setUp(self):
        if not self.milter.running():
            daemons.write_config(self.conf, self.settings)
            self.milter.start(wait_unix=self.sock)
        self.sink.clear()

    def submit(self, sender_header, envelope_from, port=None, **kw):
        code, out = swaks(port or self.submit_port, envelope_from, ["bob@remote.test"], data=message(sender_header, **kw))
        return code, out

    def delivered(self, n=1, timeout=30):
        env.wait_for(lambda: self.sink.count() >= n, timeout=timeout,
                     what=f"{n} message(s) at the sink\nmaillog:\n{self.postfix.log()[-3000:]}")
        time.sleep(0.2)
        return self.sink.messages()

    def assert_nothing_delivered(self):
        time.sleep(1.5)
        self.assertEqual(self.sink.count(), 0, "a message reached the sink")
        self.assertEqual(self.postfix.queue_count(), 0, "a message is in Postfix's queue")

    def signatures(self, data):
        return re.findall(rb"(?ms)^DKIM-Signature:(.*?)(?=^\S)", data)

    def test_dual_rsa_and_ed25519_signatures_verify(self):
        code, out = self.submit("Alice <alice@example.com>", "alice@example.com")
        self.assertEqual(code, 0, out)
        (path, envl, data), = self.delivered()
        sigs = self.signatures(data)
        self.assertEqual(len(sigs), 2, data.decode(errors="replace"))
        joined = b" ".join(sigs)
        self.assertIn(b"a=rsa-sha256", joined)
        self.assertIn(b"a=ed25519-sha256", joined)
        self.assertRegex(joined, rb"c=relaxed/relaxed")
        results = daemons.verify_all(self.keysfile, [path], require=2)
        self.assertEqual(results["libopendkim"].count(" pass"), 2, results)
        self.assertEqual(results["dkimpy"].count(" pass"), 2, results)
        # From and Subject are over-signed: listed once more than they occur.
        h = re.search(rb"h=([^;]*);", re.sub(rb"\s+", b"", sigs[0])).group(1).lower().split(b":")
        self.assertEqual(h.count(b"from"), 2, h)
        self.assertEqual(h.count(b"subject"), 2, h)
        self.assertIn(b"message-id", h)
        self.assertIn(b"list-unsubscribe-post", h)  # over-signed although absent
        line = self.milter.wait_log("signed: from=<alice@example.com>")
        self.assertIn("listener ORIGINATING", line)

    def test_subdomain_is_aligned_through_its_organisational_domain(self):
        code, out = self.submit("news@news.example.com", "news@news.example.com")
        self.assertEqual(code, 0, out)
        (path, _, data), = self.delivered()
        self.assertIn(b"d=example.com", data)
        daemons.verify_all(self.keysfile, [path], require=1)

    def test_from_domain_plus_second_domain(self):
        code, out = self.submit("Brand <hello@brand.test>", "hello@brand.test")
        self.assertEqual(code, 0, out)
        (path, _, data), = self.delivered()
        sig = b" ".join(self.signatures(data))
        self.assertIn(b"d=brand.test", sig)
        self.assertIn(b"d=esp.test", sig)
        daemons.verify_all(self.keysfile, [path], require=2)

    def test_unaligned_key_is_not_delivered_unsigned(self):
        code, out = self.submit("x@unaligned.test", "x@unaligned.test")
        self.assertNotEqual(code, 0)
        self.assertRegex(out, r"451 4\.7\.1 rampart: message not signed: no usable DKIM key aligned with From domain unaligned\.test")
        self.assert_nothing_delivered()

    def test_from_domain_without_key_is_not_delivered(self):
        code, out = self.submit("x@nokey.test", "x@nokey.test")
        self.assertNotEqual(code, 0)
        self.assertIn("451 4.7.1 rampart: message not signed: no dkim_signing_table entry matches x@nokey.test", out)
        self.assert_nothing_delivered()
        self.milter.wait_log("tempfail: from=<x@nokey.test>")

    def test_other_mail_passes_untouched(self):
        code, out = self.submit("Carol <carol@nokey.test>", "carol@nokey.test", port=self.mx_port)
        self.assertEqual(code, 0, out)
        (_, _, data), = self.delivered()
        self.assertNotIn(b"DKIM-Signature", data)
        line = self.milter.wait_log("passed: from=<carol@nokey.test>")
        self.assertIn("not our users' mail", line)

    def test_folded_headers_and_8bit_body_with_simple_canonicalisation(self):
        self.settings["dkim_canonicalization"] = "simple/simple"
        daemons.write_config(self.conf, self.settings)
        offset = self.milter.log_size()
        self.milter.hup()
        self.milter.wait_log("reloaded", after=offset)
        try:
            body = "Gr\u00fc\u00dfe   \n\nline with trailing spaces   \n" + "x" * 900 + "\n\n\n"
            code, out = self.submit("Alice <alice@example.com>", "alice@example.com",
                                    subject="a subject that is folded\n   over two lines  ", body=body,
                                    extra="X-Custom:  spaced   value \n")
            self.assertEqual(code, 0, out)
            (path, _, data), = self.delivered()
            self.assertIn(b"c=simple/simple", data)
            daemons.verify_all(self.keysfile, [path], require=2)
        finally:
            del self.settings["dkim_canonicalization"]
            daemons.write_config(self.conf, self.settings)
            offset = self.milter.log_size()
            self.milter.hup()
            self.milter.wait_log("reloaded", after=offset)

    def test_reload_new_key_and_broken_config_keeps_old(self):
        path, rec = daemons.make_key(self.keydir, "example.com", "rsa2", "rsa")
        keysfile = daemons.write_keys_file(os.path.join(self.tmp, "verify2.keys"),
                                           {**self.records, "rsa2._domainkey.example.com": rec})
        keytable2 = self.keytable + ".2"
        shutil.copy(self.keytable, keytable2)
        with open(keytable2, "a") as f:
            f.write(f"rsa2-example.com example.com:rsa2:{path}\n")
        signing2 = self.signingtable + ".2"
        with open(signing2, "w") as f:
            f.write("*@example.com rsa2-example.com\n")
        old = dict(self.settings)
        try:
            self.settings.update({"dkim_key_table": f"file:{keytable2}", "dkim_signing_table": f"refile:{signing2}"})
            daemons.write_config(self.conf, self.settings)
            offset = self.milter.log_size()
            self.milter.hup()
            self.milter.wait_log("reloaded", after=offset)
            code, out = self.submit("alice@example.com", "alice@example.com")
            self.assertEqual(code, 0, out)
            (p, _, data), = self.delivered()
            self.assertIn(b"s=rsa2", data)
            daemons.verify_all(keysfile, [p], require=1)

            # A broken file is refused as a whole: the running configuration stays.
            with open(self.conf, "a") as f:
                f.write("dkim_canonicalisation = relaxed/relaxed\n")
            offset = self.milter.log_size()
            self.milter.hup()
            line = self.milter.wait_log("unknown key", after=offset)
            self.assertIn("rampart.conf:", line)
            self.assertIn("did you mean dkim_canonicalization?", line)
            self.milter.wait_log("reload failed", after=offset)
            self.sink.clear()
            code, out = self.submit("alice@example.com", "alice@example.com")
            self.assertEqual(code, 0, out)
            (p, _, data), = self.delivered()
            self.assertIn(b"s=rsa2", data)
            self.assertTrue(self.milter.running())
        finally:
            self.settings.clear()
            self.settings.update(old)
            daemons.write_config(self.conf, self.settings)
            offset = self.milter.log_size()
            self.milter.hup()
            self.milter.wait_log("reloaded", after=offset)

    def test_garbage_on_the_socket_does_not_stop_the_milter(self):
        for junk in (b"\x00\x00\x00\x05Zhello", b"GET / HTTP/1.0\r\n\r\n", b"\xff" * 5000, b""):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.sock)
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(5)
                try:
                    s.recv(100)
                except OSError:
                    pass
        self.assertTrue(self.milter.running())
        code, out = self.submit("alice@example.com", "alice@example.com")
        self.assertEqual(code, 0, out)
        (path, _, _), = self.delivered()
        daemons.verify_all(self.keysfile, [path], require=2)

    def test_milter_down_means_tempfail_and_the_retry_is_signed(self):
        self.assertEqual(self.milter.stop(), 0, self.milter.log())
        msg = message("Alice <alice@example.com>")
        code, out = swaks(self.submit_port, "alice@example.com", ["bob@remote.test"], data=msg)
        self.assertNotEqual(code, 0)
        self.assertRegex(out, r"451 4\.7\.1")
        self.assert_nothing_delivered()
        daemons.write_config(self.conf, self.settings)
        self.milter.start(wait_unix=self.sock)
        code, out = swaks(self.submit_port, "alice@example.com", ["bob@remote.test"], data=msg)  # the retry
        self.assertEqual(code, 0, out)
        (path, _, _), = self.delivered()
        daemons.verify_all(self.keysfile, [path], require=2)

    def test_usr1_logs_counters(self):
        offset = self.milter.log_size()
        self.milter.signal(10)  # SIGUSR1
        line = self.milter.wait_log("stats:", after=offset)
        self.assertRegex(line, r"signed=\d+ passed=\d+")


if __name__ == "__main__":
    unittest.main(verbosity=2)
