#!/usr/bin/python3
"""Operating rampart-milter: DNS checks of published keys (rampartctl dkim check and the milter's own
start-up/reload check, with enforcement), refused unsafe keys, a key that vanishes before a reload,
oversized header blocks, and the command-line contract (--check-config, --print-defaults,
--print-config, exit codes). DNS is a dnsmasq on loopback; Postfix is a private instance."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rampart_testlib import env, daemons  # noqa: E402
from rampart_testlib.dnsmasq import LoopbackDns  # noqa: E402
from rampart_testlib.postfix import PrivatePostfix, swaks  # noqa: E402
from rampart_testlib.sink import SmtpSink  # noqa: E402


def message(sender, extra_headers=""):
    return (f"From: {sender}\nTo: bob@remote.test\nSubject: ops\nDate: Sun, 22 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{time.time_ns()}@rampart.test>\n{extra_headers}\nbody\n")


class Keys:
    """Keys for example.com (rsa1 published correctly, ed1 published with another key's record, rsa2
    not published, rev1 revoked) and their tables."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "keys")
        os.makedirs(self.dir, mode=0o755)
        self.paths, self.records = {}, {}
        for sel, typ in [("rsa1", "rsa"), ("ed1", "ed25519"), ("rsa2", "rsa"), ("rev1", "ed25519")]:
            self.paths[sel], self.records[sel] = daemons.make_key(self.dir, "example.com", sel, typ)
        _, self.other_ed = daemons.make_key(self.dir, "other.test", "x", "ed25519")
        self.keytable = os.path.join(tmp, "key.table")
        with open(self.keytable, "w") as f:
            for sel, p in self.paths.items():
                f.write(f"{sel} example.com:{sel}:{p}\n")
        self.signing = os.path.join(tmp, "signing.table")
        with open(self.signing, "w") as f:
            f.write("*@example.com rsa1\n*@example.com ed1\n*@second.test rsa2\n*@revoked.test rev1\n")

    def publish(self, dns):
        dns.txt("rsa1._domainkey.example.com", self.records["rsa1"])   # correct
        dns.txt("ed1._domainkey.example.com", self.other_ed)            # another key: mismatch
        dns.txt("rev1._domainkey.example.com", "v=DKIM1; k=ed25519; p=")  # revoked
        # rsa2: not published -> missing


class Operations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env.require_root()
        env.rampart_account()
        cls.tmp = env.make_tmpdir("rampart-e2e-ops-")
        cls.keys = Keys(cls.tmp)
        cls.dns = LoopbackDns(zones=("test", "example.com"))
        cls.keys.publish(cls.dns)
        cls.dns.start()
        cls.sink = SmtpSink(os.path.join(cls.tmp, "sink")).start()
        cls.sock = os.path.join(cls.tmp, "run", "milter.sock")
        cls.conf = os.path.join(cls.tmp, "rampart.conf")
        cls.base = {
            "milter_listen": f"unix:{cls.sock}",
            "milter_pid_file": "",
            "dkim_key_table": f"file:{cls.keys.keytable}",
            "dkim_signing_table": f"refile:{cls.keys.signing}",
            "dns_servers": cls.dns.address,
            "dns_timeout": "2s",
        }
        cls.postfix = PrivatePostfix(cls.tmp, cls.sink.port, milter_socket=cls.sock).start()
        cls.milter = None

    @classmethod
    def tearDownClass(cls):
        cls.postfix.stop()
        cls.sink.stop()
        cls.dns.stop()
        env.cleanup_tmpdir(cls.tmp)

    def tearDown(self):
        if self.milter and self.milter.running():
            self.assertEqual(self.milter.stop(), 0, self.milter.log())
        self.milter = None

    def start_milter(self, **settings):
        daemons.write_config(self.conf, {**self.base, **settings})
        self.milter = daemons.Daemon("rampart-milter", self.conf, os.path.join(self.tmp, f"milter-{time.time_ns()}.log"))
        return self.milter.start(wait_unix=self.sock)

    def send(self, sender):
        self.sink.clear()
        return swaks(self.postfix.port, sender, ["bob@remote.test"], data=message(sender))

    def delivered(self):
        env.wait_for(lambda: self.sink.count() >= 1, timeout=30, what="a delivered message")
        return self.sink.messages()[0][2]

    # ---------------------------------------------------------------- rampartctl dkim check
    def test_rampartctl_dkim_check_reports_each_selector(self):
        daemons.write_config(self.conf, self.base)
        r = daemons.rampartctl("dkim", "check", config=self.conf, check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:] if line.strip()}
        self.assertRegex(rows["rsa1._domainkey.example.com"], r"rsa-2048\s+ok\b")
        self.assertRegex(rows["ed1._domainkey.example.com"], r"ed25519-256\s+mismatch\s+.*publish: v=DKIM1; k=ed25519; p=")
        self.assertRegex(rows["rsa2._domainkey.example.com"], r"missing\s+.*publish: v=DKIM1; k=rsa; p=")
        self.assertRegex(rows["rev1._domainkey.example.com"], r"revoked")
        js = json.loads(daemons.rampartctl("dkim", "check", "--json", config=self.conf, check=False).stdout)
        self.assertEqual({e["name"]: e["status"] for e in js}, {
            "rsa1._domainkey.example.com": "ok", "ed1._domainkey.example.com": "mismatch",
            "rsa2._domainkey.example.com": "missing", "rev1._domainkey.example.com": "revoked"})

    def test_rampartctl_dkim_check_all_ok_exits_zero(self):
        table = os.path.join(self.tmp, "only-rsa1.table")
        with open(table, "w") as f:
            f.write(f"rsa1 example.com:rsa1:{self.keys.paths['rsa1']}\n")
        daemons.write_config(self.conf, {**self.base, "dkim_key_table": f"file:{table}",
                                          "dkim_signing_table": ""})
        r = daemons.rampartctl("dkim", "check", config=self.conf, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"rsa1._domainkey.example.com\s+rsa-2048\s+ok")

    def test_rampartctl_dkim_check_dns_down(self):
        daemons.write_config(self.conf, {**self.base, "dns_servers": f"127.0.0.1:{env.free_port()}",
                                          "dns_timeout": "1s"})
        r = daemons.rampartctl("dkim", "check", config=self.conf, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("dns error", r.stdout)

    # ---------------------------------------------------------------- the milter's own DNS check
    def test_milter_warns_about_unpublished_keys_but_signs(self):
        self.start_milter(dkim_key_dns_check="warn")
        log = self.milter.log()
        self.assertRegex(log, r"warning: .*key\.table:2: DNS check of ed1\._domainkey\.example\.com: mismatch")
        self.assertRegex(log, r"warning: .*key\.table:3: DNS check of rsa2\._domainkey\.example\.com: missing")
        code, out = self.send("alice@example.com")
        self.assertEqual(code, 0, out)
        data = self.delivered()
        self.assertEqual(data.count(b"DKIM-Signature:"), 2)  # warn: ed1 still used

    def test_enforce_stops_signing_with_mismatched_keys(self):
        self.start_milter(dkim_key_dns_check="enforce")
        self.assertIn("not signing with this key (dkim_key_dns_check = enforce)", self.milter.log())
        code, out = self.send("alice@example.com")
        self.assertEqual(code, 0, out)
        data = self.delivered()
        self.assertEqual(data.count(b"DKIM-Signature:"), 1)
        self.assertIn(b"s=rsa1", data)
        line = self.milter.wait_log("signed: from=<alice@example.com>")
        self.assertIn("skipped a signature: key ed1._domainkey.example.com is not used: mismatch in DNS", line)
        # A domain whose only key is unpublished: not delivered unsigned.
        code, out = self.send("x@second.test")
        self.assertNotEqual(code, 0)
        self.assertIn("key rsa2._domainkey.example.com is not used: missing in DNS", out)
        code, out = self.send("x@revoked.test")
        self.assertIn("revoked in DNS", out)

    def test_reload_rechecks_dns(self):
        self.start_milter(dkim_key_dns_check="enforce")
        # Publish the right ed1 record now; after SIGHUP both keys sign again.
        self.dns.txt("ed1._domainkey.example.com", self.keys.records["ed1"])
        self.dns.start()
        try:
            offset = self.milter.log_size()
            self.milter.hup()
            self.milter.wait_log("reloaded", after=offset)
            code, out = self.send("alice@example.com")
            self.assertEqual(code, 0, out)
            self.assertEqual(self.delivered().count(b"DKIM-Signature:"), 2)
        finally:
            self.dns._records = [r for r in self.dns._records if "ed1._domainkey" not in " ".join(map(str, r))]
            self.dns.txt("ed1._domainkey.example.com", self.keys.other_ed)
            self.dns.start()

    # ---------------------------------------------------------------- keys on disk
    def test_world_readable_key_is_refused_with_file_and_line(self):
        bad = os.path.join(self.keys.dir, "bad.private")
        shutil.copy(self.keys.paths["rsa1"], bad)
        os.chmod(bad, 0o644)
        table = os.path.join(self.tmp, "bad.table")
        with open(table, "w") as f:
            f.write(f"# comment\nbad example.com:bad:{bad}\n")
        daemons.write_config(self.conf, {**self.base, "dkim_key_table": f"file:{table}",
                                          "dkim_signing_table": "", "dkim_key_dns_check": "off"})
        r = env.run([env.binary("rampart-milter"), "-c", self.conf, "--check-config"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{table}:2: key bad: {bad} is readable by other users (mode 0644); run: chmod 600 {bad}", r.stderr)
        r = env.run([env.binary("rampart-milter"), "-c", self.conf, "--foreground"], check=False, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("configuration has errors; not starting", r.stderr)
        r = daemons.rampartctl("check-config", config=self.conf, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{table}:2:", r.stderr)

    def test_short_rsa_key_refused_and_1024_warned(self):
        k1024, _ = daemons.make_key(self.keys.dir, "example.com", "short1024", "rsa", bits=1024)
        k512 = os.path.join(self.keys.dir, "k512.private")
        env.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512", "-out", k512])
        os.chown(k512, *self._rampart_ids())
        os.chmod(k512, 0o600)
        table = os.path.join(self.tmp, "short.table")
        with open(table, "w") as f:
            f.write(f"k1024 example.com:s1024:{k1024}\nk512 example.com:s512:{k512}\n")
        daemons.write_config(self.conf, {**self.base, "dkim_key_table": f"file:{table}",
                                          "dkim_signing_table": "", "dkim_key_dns_check": "off"})
        r = env.run([env.binary("rampart-milter"), "-c", self.conf, "--check-config"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, re.escape(table) + r":1: warning: key k1024 .* is RSA-1024; .*2048")
        self.assertRegex(r.stderr, re.escape(table) + r":2: key k512: .*512 bits is too short \(minimum 1024\)")

    def _rampart_ids(self):
        import pwd
        pw = pwd.getpwnam("rampart")
        return pw.pw_uid, pw.pw_gid

    def test_key_removed_before_reload_keeps_running_config(self):
        victim = os.path.join(self.keys.dir, "victim.private")
        shutil.copy(self.keys.paths["rsa1"], victim)
        os.chown(victim, *self._rampart_ids())
        os.chmod(victim, 0o600)
        table = os.path.join(self.tmp, "victim.table")
        with open(table, "w") as f:
            f.write(f"rsa1 example.com:rsa1:{victim}\n")
        signing = os.path.join(self.tmp, "victim.signing")
        with open(signing, "w") as f:
            f.write("*@example.com rsa1\n")
        self.start_milter(dkim_key_table=f"file:{table}", dkim_signing_table=f"refile:{signing}",
                          dkim_key_dns_check="off")
        os.unlink(victim)
        offset = self.milter.log_size()
        self.milter.hup()
        line = self.milter.wait_log(f"{table}:1: key rsa1:", after=offset)
        self.assertIn(victim, line)
        self.milter.wait_log("reload failed; keeping the running configuration", after=offset)
        code, out = self.send("alice@example.com")
        self.assertEqual(code, 0, out)
        self.assertIn(b"s=rsa1", self.delivered())  # the key in memory still signs

    # ---------------------------------------------------------------- messages
    def test_oversized_header_block_is_tempfailed(self):
        self.start_milter(dkim_key_dns_check="off", milter_header_size_limit="4k")
        big = "".join(f"X-Filler-{i}: {'y' * 70}\n" for i in range(80))
        self.sink.clear()
        code, out = swaks(self.postfix.port, "alice@example.com", ["bob@remote.test"],
                          data=message("alice@example.com", extra_headers=big))
        self.assertNotEqual(code, 0)
        self.assertIn("451 4.3.4 rampart: header block larger than milter_header_size_limit (4096 bytes); not signed", out)
        time.sleep(1)
        self.assertEqual(self.sink.count(), 0)
        self.assertTrue(self.milter.running())

    # ---------------------------------------------------------------- command line
    def test_command_line_contract(self):
        milter = env.binary("rampart-milter")
        r = env.run([milter, "--print-defaults"])
        self.assertIn("milter_listen = unix:/run/rampart/milter.sock\n", r.stdout)
        self.assertIn("dkim_unsigned_action = tempfail\n", r.stdout)
        self.assertNotIn("policyd_", r.stdout)
        daemons.write_config(self.conf, {"milter_listen": "inet:8891@127.0.0.1", "dkim_key_dns_check": "off"})
        r = env.run([milter, "-c", self.conf, "--print-config"])
        # write_config also points the suppression list into the test directory and turns refunds off.
        self.assertEqual([l for l in r.stdout.splitlines() if not l.startswith(("suppression_list", "milter_refund_socket"))],
                         ["milter_listen = inet:127.0.0.1:8891", "dkim_key_dns_check = off"])
        with open(self.conf) as f:
            n = len(f.read().splitlines())
        with open(self.conf, "a") as f:
            f.write("milter_socket_mode = 0999\nmilter_listen = tcp:1\n")
        r = env.run([milter, "-c", self.conf, "--check-config"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{self.conf}:{n + 1}: milter_socket_mode: expected an octal file mode such as 0660, got \"0999\"", r.stderr)
        self.assertIn(f"{self.conf}:{n + 2}: milter_listen: unknown socket type \"tcp\"", r.stderr)
        r = env.run([milter, "-c", "/nonexistent.conf", "--check-config"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent.conf: cannot open configuration file", r.stderr)
        r = env.run([milter, "--bogus"], check=False)
        self.assertEqual(r.returncode, 2)
        r = daemons.rampartctl("config", "defaults")
        self.assertIn("dkim_key_table = \n", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
