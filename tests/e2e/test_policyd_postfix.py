#!/usr/bin/python3
"""rampart-policyd behind a real Postfix (check_policy_service at RCPT and END-OF-MESSAGE, as in
contrib/postfix/main.cf.policyd): exact caps per mailbox, a provider cap across mailboxes (providers
from MX records on a loopback DNS server), a recipient rejected by a later restriction does not use
the cap, a refund by queue id gives the slot back, and with the daemon down Postfix defers (fail
closed) and the retry goes through once it is back."""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rampart_testlib import env, daemons, policy  # noqa: E402
from rampart_testlib.dnsmasq import LoopbackDns  # noqa: E402
from rampart_testlib.postfix import PrivatePostfix, swaks  # noqa: E402
from rampart_testlib.sink import SmtpSink  # noqa: E402

LIMITS = """\
# Each mailbox: 5 recipients a day (mailbox = the SASL login, else the envelope sender).
[per-mailbox]
scope = mailbox
when  = sender_domain != spread.test
cap   = 5/day

# All mailboxes together: 4 recipients a day at Google (gmail.com, or any domain whose MX are Google's).
[google]
scope = provider
when  = provider = google
cap   = 4/day
"""


def message(sender, rcpt):
    return (f"From: {sender}\nTo: {rcpt}\nSubject: pacing\nDate: Sun, 22 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{time.time_ns()}@rampart.test>\n\nhello\n")


class PolicydBehindPostfix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env.require_root()
        env.rampart_account()
        cls.tmp = env.make_tmpdir("rampart-e2e-policyd-pf-")
        cls.dns = LoopbackDns(zones=("test",))
        cls.dns.mx("corp-on-google.test", "aspmx.l.google.com", 1)
        cls.dns.start()
        cls.sink = SmtpSink(os.path.join(cls.tmp, "sink")).start()
        cls.sock = os.path.join(cls.tmp, "run", "policy.sock")
        cls.ctl = os.path.join(cls.tmp, "run", "control.sock")
        cls.limits = os.path.join(cls.tmp, "limits.conf")
        with open(cls.limits, "w") as f:
            f.write(LIMITS)
        cls.conf = os.path.join(cls.tmp, "rampart.conf")
        daemons.write_config(cls.conf, {
            "policyd_listen": f"unix:{cls.sock}",
            "policyd_control_socket": f"unix:{cls.ctl}",
            "policyd_limits": cls.limits,
            "policyd_store": f"journal:{os.path.join(cls.tmp, 'state')}",
            "policyd_pid_file": "",
            "policyd_reservation_timeout": "2s",
            "dns_servers": cls.dns.address,
        })
        cls.policyd = daemons.Daemon("rampart-policyd", cls.conf, os.path.join(cls.tmp, "policyd.log"))
        cls.policyd.start(wait_unix=cls.sock)
        svc = f"check_policy_service {{ unix:{cls.sock}, timeout=10s }}"
        cls.postfix = PrivatePostfix(cls.tmp, cls.sink.port, extra_main={
            # The later restriction of test_rejected_later_does_not_use_the_cap.
            "smtpd_recipient_restrictions": f"{svc}, check_recipient_access inline:{{ blocked@remote.test=REJECT }}",
            "smtpd_end_of_data_restrictions": svc,
            "smtpd_policy_service_default_action": "451 4.3.0 rampart: pacing service unavailable, try again later",
            "smtpd_policy_service_try_limit": "1",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.postfix.stop()
        rc = cls.policyd.stop()
        cls.sink.stop()
        cls.dns.stop()
        env.cleanup_tmpdir(cls.tmp)
        assert rc in (0, None), f"rampart-policyd exited {rc}"

    def setUp(self):
        self.sink.clear()

    def send(self, sender, rcpt="bob@remote.test"):
        return swaks(self.postfix.port, sender, [rcpt], data=message(sender, rcpt))

    def wait_delivered(self, n):
        env.wait_for(lambda: self.sink.count() >= n, timeout=60,
                     what=f"{n} messages at the sink (have {self.sink.count()})\n{self.postfix.log()[-3000:]}")
        time.sleep(1.0)
        self.assertEqual(self.sink.count(), n)

    def test_three_mailboxes_capped_at_five_get_exactly_fifteen_through(self):
        deferred = []
        for n in range(8):
            for m in ("ann", "ben", "cat"):
                code, out = self.send(f"{m}@mbox.test")
                if code != 0:
                    deferred.append(out)
        self.wait_delivered(15)
        self.assertEqual(len(deferred), 9)
        for out in deferred:
            self.assertRegex(out, r"450 4\.7\.1 <bob@remote\.test>: Recipient address rejected: rampart: mailbox "
                                  r"(ann|ben|cat)@mbox\.test reached cap 5/day \(limit per-mailbox\); retry after "
                                  r"\d{4}-\d\d-\d\d 00:00 UTC")
        senders = sorted(e["mail_from"] for _, e, _ in self.sink.messages())
        self.assertEqual(senders, ["ann@mbox.test"] * 5 + ["ben@mbox.test"] * 5 + ["cat@mbox.test"] * 5)
        log = self.policyd.log()
        self.assertGreaterEqual(len(re.findall(r": counted 1 recipient\(s\)", log)), 15)

    def test_provider_cap_across_mailboxes(self):
        results = []
        for i, rcpt in enumerate(["a@gmail.com", "b@corp-on-google.test", "c@googlemail.com",
                                  "d@corp-on-google.test", "e@gmail.com", "f@corp-on-google.test"]):
            code, out = self.send(f"u{i}@spread.test", rcpt)
            results.append((code, out))
        self.wait_delivered(4)
        self.assertEqual([c == 0 for c, _ in results], [True] * 4 + [False] * 2)
        for _, out in results[4:]:
            self.assertIn("rampart: provider google reached cap 4/day (limit google)", out)

    def test_rejected_later_does_not_use_the_cap(self):
        code, out = self.send("dee@later.test", "blocked@remote.test")
        self.assertNotEqual(code, 0)
        self.assertIn("554 5.7.1 <blocked@remote.test>: Recipient address rejected: Access denied", out)
        # The slot reserved for the rejected recipient is released: by the next transaction on the
        # same policy connection, or after policyd_reservation_timeout (2s here).
        time.sleep(3.5)
        codes = [self.send("dee@later.test")[0] for _ in range(6)]
        self.wait_delivered(5)
        self.assertEqual(codes, [0, 0, 0, 0, 0, codes[5]])
        self.assertNotEqual(codes[5], 0)

    def test_refund_by_queue_id_gives_the_slot_back(self):
        qids = []
        for _ in range(5):
            code, out = self.send("eve@refund.test")
            self.assertEqual(code, 0, out)
            qids.append(re.search(r"queued as ([0-9A-F]+)", out).group(1))
        code, out = self.send("eve@refund.test")
        self.assertNotEqual(code, 0)
        self.wait_delivered(5)
        # What rampart-milter sends when it refuses a message after END-OF-MESSAGE.
        reply = policy.one_shot("unix:" + self.sock, {"request": "rampart_refund", "queue_id": qids[0]})
        self.assertEqual(reply, f"OK refunded 1 recipient of {qids[0]}")
        code, out = self.send("eve@refund.test")
        self.assertEqual(code, 0, out)
        self.wait_delivered(6)

    def test_policyd_down_defers_and_the_retry_passes(self):
        self.assertEqual(self.policyd.stop(), 0)
        try:
            code, out = self.send("fay@down.test")
            self.assertNotEqual(code, 0)
            self.assertIn("451 4.3.0", out)
            self.assertIn("rampart: pacing service unavailable", out)
            time.sleep(1)
            self.assertEqual(self.sink.count(), 0)
        finally:
            self.policyd.start(wait_unix=self.sock)
        code, out = self.send("fay@down.test")
        self.assertEqual(code, 0, out)
        self.wait_delivered(1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
