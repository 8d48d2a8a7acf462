#!/usr/bin/python3
"""rampart-policyd behind a real Exim (Debian's exim4 4.96 unpacked into a private prefix by
scripts/setup.sh; exim4 and postfix conflict as packages) using the shipped ACL snippet
contrib/exim/rampart-policyd.acl: the cap holds end to end, the deferral text reaches the SMTP
client, the DATA ACL counts what was accepted, and with rampart-policyd down Exim defers."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rampart_testlib import env, daemons, policy  # noqa: E402
from rampart_testlib.postfix import swaks  # noqa: E402

EXIM_PREFIX = os.environ.get("RAMPART_EXIM_PREFIX", "/var/cache/rampart-test/exim")
ACL = os.path.join(env.SOURCE_DIR, "contrib", "exim", "rampart-policyd.acl")


def acl_parts(sock):
    """The three parts of the shipped snippet, with the test's socket path."""
    with open(ACL) as f:
        text = f.read().replace("/run/rampart/policyd.sock", sock)
    parts = re.split(r"^# --- in (acl_smtp_\w+).*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


class PolicydBehindExim(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env.require_root()
        env.rampart_account()
        exim = os.path.join(EXIM_PREFIX, "usr/sbin/exim4")
        if not os.path.exists(exim):
            raise SystemExit(f"{exim} is missing: run scripts/setup.sh (it unpacks Debian's exim4 there)")
        cls.exim_bin = exim
        cls.tmp = env.make_tmpdir("rampart-e2e-exim-")
        cls.sock = os.path.join(cls.tmp, "run", "policy.sock")
        cls.ctl = os.path.join(cls.tmp, "run", "control.sock")
        limits = os.path.join(cls.tmp, "limits.conf")
        with open(limits, "w") as f:
            f.write("[per-mailbox]\nscope = mailbox\ncap = 4/day\n")
        cls.conf = os.path.join(cls.tmp, "rampart.conf")
        daemons.write_config(cls.conf, {
            "policyd_listen": f"unix:{cls.sock}",
            "policyd_control_socket": f"unix:{cls.ctl}",
            "policyd_socket_group": "Debian-exim",
            "policyd_limits": limits,
            "policyd_store": f"journal:{os.path.join(cls.tmp, 'state')}",
            "policyd_pid_file": "",
        })
        cls.policyd = daemons.Daemon("rampart-policyd", cls.conf, os.path.join(cls.tmp, "policyd.log"))
        cls.policyd.start(wait_unix=cls.sock)
        cls.port = env.free_port()
        spool = os.path.join(cls.tmp, "spool")
        logdir = os.path.join(cls.tmp, "log")
        for d in (spool, logdir):
            os.makedirs(d)
            subprocess.run(["chown", "Debian-exim:Debian-exim", d], check=True)
        parts = acl_parts(cls.sock)
        cls.exim_conf = os.path.join(cls.tmp, "exim.conf")
        with open(cls.exim_conf, "w") as f:
            f.write(f"""\
primary_hostname = exim.rampart.test
spool_directory = {spool}
log_file_path = {logdir}/%slog
daemon_smtp_ports = {cls.port}
local_interfaces = 127.0.0.1
exim_user = Debian-exim
exim_group = Debian-exim
host_lookup =
rfc1413_hosts =
queue_only = true
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl

acl_mail:
{parts['acl_smtp_mail']}
  accept

acl_rcpt:
{parts['acl_smtp_rcpt']}
  accept

acl_data:
{parts['acl_smtp_data']}
  accept

begin routers
begin transports
""")
        envv = dict(os.environ, LD_LIBRARY_PATH=os.path.join(EXIM_PREFIX, "usr/lib/x86_64-linux-gnu"))
        cls.exim_log = open(os.path.join(cls.tmp, "exim.out"), "wb")
        cls.exim = subprocess.Popen([cls.exim_bin, "-C", cls.exim_conf, "-bdf"], env=envv,
                                    stdout=cls.exim_log, stderr=subprocess.STDOUT)
        env.wait_for(lambda: env.port_open(cls.port) or cls.exim.poll() is not None, timeout=20, what="exim")
        if cls.exim.poll() is not None:
            raise AssertionError("exim did not start:\n" + open(os.path.join(cls.tmp, "exim.out")).read() +
                                 "".join(open(os.path.join(logdir, f)).read() for f in os.listdir(logdir)))
        cls.logdir = logdir

    @classmethod
    def tearDownClass(cls):
        cls.exim.terminate()
        cls.exim.wait(timeout=20)
        cls.exim_log.close()
        rc = cls.policyd.stop()
        env.cleanup_tmpdir(cls.tmp)
        assert rc in (0, None), f"rampart-policyd exited {rc}"

    def send(self, sender):
        data = f"From: {sender}\nTo: bob@remote.test\nSubject: exim\n\nhello\n"
        return swaks(self.port, sender, ["bob@remote.test"], data=data)

    def exim_mainlog(self):
        p = os.path.join(self.logdir, "mainlog")
        if not os.path.exists(p):
            return ""
        with open(p) as f:
            return f.read()

    def test_cap_enforced_through_the_shipped_acl(self):
        results = [self.send("gus@exim.test") for _ in range(6)]
        self.assertEqual([c == 0 for c, _ in results], [True] * 4 + [False] * 2,
                         "\n".join(o for _, o in results) + self.exim_mainlog())
        for _, out in results[4:]:
            # Exim answers 451 and folds long texts over several reply lines: join them.
            lines = [l[8:] for l in out.splitlines() if re.match(r"^<\*\* 451[- ]", l)]
            self.assertTrue(lines, out)
            self.assertRegex(" ".join(lines), r"^4\.7\.1 rampart: mailbox gus@exim\.test reached cap 4/day "
                                              r"\(limit per-mailbox\); retry after \d{4}-\d\d-\d\d 00:00 UTC$")
        # The DATA ACL counted every accepted message under its Exim message id: nothing is left
        # merely reserved.
        out = policy.control(self.ctl, "status\tmailbox=gus@exim.test")
        rows = json.loads(out.split("\n", 1)[1])["scopes"]
        self.assertEqual([(r["count"], r["reserved"]) for r in rows], [(4, 0)])
        self.assertEqual(len(re.findall(r"counted 1 recipient\(s\)", self.policyd.log())), 4)

    def test_policyd_down_means_defer(self):
        self.assertEqual(self.policyd.stop(), 0)
        try:
            code, out = self.send("hal@exim.test")
            self.assertNotEqual(code, 0)
            self.assertIn("rampart: pacing service unavailable, try again later", out)
        finally:
            self.policyd.start(wait_unix=self.sock)
        code, out = self.send("hal@exim.test")
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
