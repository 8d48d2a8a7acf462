#!/usr/bin/python3
"""Header hygiene, suppression, one-click unsubscribe, bounce and complaint ingestion, and refunds,
behind a real Postfix with rampart-milter (smtpd_milters) and rampart-policyd (check_policy_service
at RCPT and END-OF-MESSAGE):

- a message with defects arrives repaired, with List-Unsubscribe, List-Unsubscribe-Post and the
  reference stamp, under a DKIM signature that dkimpy and libopendkim verify and whose h= covers them;
- a suppressed recipient is refused (by policyd at RCPT, and by the milter on a listener without
  policyd) while the others are delivered; a from_domain suppression removes the recipient at
  end-of-message;
- curl -X POST of the token from a delivered message makes the next message to that address be
  refused; GET shows a page and changes nothing; a bad token gets 400;
- a hard-bounce DSN piped to rampartctl ingest suppresses; a spam-block DSN does not;
- a complaint report whose recipient is redacted is mapped back through the reference stamp;
- a mailto unsubscribe (token in the subject) through ingest suppresses;
- a message the milter refuses at end-of-message gives its policyd cap slot back."""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rampart_testlib import env, daemons  # noqa: E402
from rampart_testlib.postfix import PrivatePostfix, swaks  # noqa: E402
from rampart_testlib.sink import SmtpSink  # noqa: E402

SECRET = "e2e-secret-0123456789abcdef-not-for-production"

LIMITS = """\
# The refund test's mailbox: two recipients a day.
[refund-test]
scope = mailbox
when  = sender_domain = pacing.test
cap   = 2/day
"""


def defective(sender="Alice <alice@example.com>", to="bob@remote.test", subject="Grüße aus Köln", extra=""):
    # No Date, no Message-ID, raw 8-bit Subject, infrastructure leaks, a forged
    # Authentication-Results and a Received line from a private address.
    return (f"Received: from pc17 ([192.168.1.17]) by intranet.local; Sun, 22 Nov 2026 09:59:00 +0000\n"
            f"From: {sender}\nTo: {to}\nSubject: {subject}\n"
            f"X-Mailer: PHPMailer 6.1.4\nX-Originating-IP: [192.168.1.17]\n"
            f"Authentication-Results: mx.google.com; dkim=pass header.d=example.com\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n{extra}\nHello,\nthis is a test.\n")


def clean(sender="Alice <alice@example.com>", to="bob@remote.test", subject="Hello", extra=""):
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: Sun, 22 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{time.time_ns()}@example.com>\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\n{extra}\nHello,\nthis is a test.\n")


def header(data, name):
    m = re.search(rb"(?mi)^" + re.escape(name.encode()) + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)", data)
    return re.sub(rb"\r?\n[ \t]+", b" ", m.group(1)).decode().strip() if m else None


def dsn(rcpt, status, diagnostic, action="failed", original_headers=""):
    return f"""From: MAILER-DAEMON@mx.remote.test (Mail Delivery System)
To: alice@example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system at host mx.remote.test. Your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.remote.test
Arrival-Date: Sun, 22 Nov 2026 10:00:00 +0000

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.remote.test
Diagnostic-Code: smtp; {diagnostic}

--B1
Content-Type: text/rfc822-headers

{original_headers or 'From: Alice <alice@example.com>'}
--B1--
"""


def arf_redacted(original_headers):
    return f"""From: staff@hotmail.example
To: fbl@example.com
Subject: complaint about message from 192.0.2.10
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="FB"

--FB
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.10.

--FB
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: JMRPReporter/1.0
Version: 1
Original-Mail-From: <alice@example.com>
Original-Rcpt-To: <redacted@hotmail.example>
Source-IP: 192.0.2.10
Arrival-Date: Sun, 22 Nov 2026 10:00:00 +0000

--FB
Content-Type: text/rfc822-headers

{original_headers}
--FB--
"""


class HygieneSuppressionBehindPostfix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env.require_root()
        env.rampart_account()
        cls.tmp = env.make_tmpdir("rampart-e2e-hs-")
        keydir = os.path.join(cls.tmp, "keys")
        os.makedirs(keydir, mode=0o755)
        path, rec = daemons.make_key(keydir, "example.com", "rsa1", "rsa")
        cls.keysfile = daemons.write_keys_file(os.path.join(cls.tmp, "verify.keys"), {"rsa1._domainkey.example.com": rec})
        keytable = os.path.join(cls.tmp, "key.table")
        with open(keytable, "w") as f:
            f.write(f"rsa1 example.com:rsa1:{path}\n")
        signingtable = os.path.join(cls.tmp, "signing.table")
        with open(signingtable, "w") as f:
            f.write("*@example.com rsa1\n")
        tenants = os.path.join(cls.tmp, "tenants")
        with open(tenants, "w") as f:
            f.write("alice@example.com  acme\n*@pacing.test      pacing\n")
        limits = os.path.join(cls.tmp, "limits.conf")
        with open(limits, "w") as f:
            f.write(LIMITS)
        cls.sink = SmtpSink(os.path.join(cls.tmp, "sink")).start()
        run = os.path.join(cls.tmp, "run")
        cls.milter_sock = os.path.join(run, "milter.sock")
        cls.policy_sock = os.path.join(run, "policy.sock")
        cls.http_port = env.free_port()
        cls.conf = os.path.join(cls.tmp, "rampart.conf")
        daemons.write_config(cls.conf, {
            "milter_listen": f"unix:{cls.milter_sock}",
            "milter_pid_file": "",
            "milter_internal_networks": "127.0.0.0/8",
            "milter_refund_socket": f"unix:{cls.policy_sock}",
            "dkim_key_table": f"file:{keytable}",
            "dkim_signing_table": f"refile:{signingtable}",
            "dkim_key_dns_check": "off",
            "hygiene_internal_domains": ".local, .lan",
            "unsubscribe_url": "https://unsub.example.com/u/",
            "unsubscribe_mailto": "unsubscribe@example.com",
            "unsubscribe_secret": SECRET,
            "unsubscribe_listen": f"inet:127.0.0.1:{cls.http_port}",
            "tenant_map": f"file:{tenants}",
            "policyd_listen": f"unix:{cls.policy_sock}",
            "policyd_control_socket": f"unix:{os.path.join(run, 'control.sock')}",
            "policyd_limits": limits,
            "policyd_store": f"journal:{os.path.join(cls.tmp, 'state')}",
            "policyd_pid_file": "",
            "log_level": "info",
        })
        cls.db = os.path.join(cls.tmp, "lib", "suppression.db")
        cls.policyd = daemons.Daemon("rampart-policyd", cls.conf, os.path.join(cls.tmp, "policyd.log"))
        cls.policyd.start(wait_unix=cls.policy_sock)
        env.wait_for(lambda: env.port_open(cls.http_port), what="the one-click endpoint")
        cls.milter = daemons.Daemon("rampart-milter", cls.conf, os.path.join(cls.tmp, "milter.log"))
        cls.milter.start(wait_unix=cls.milter_sock)
        svc = f"check_policy_service {{ unix:{cls.policy_sock}, timeout=10s }}"
        cls.port, cls.nopolicy_port = env.free_port(), env.free_port()
        cls.postfix = PrivatePostfix(cls.tmp, cls.sink.port, milter_socket=cls.milter_sock, listeners={
            "submission": (cls.port, {}),
            # A listener without the policy service: the milter's own RCPT check is what refuses.
            "nopolicy": (cls.nopolicy_port, {"smtpd_recipient_restrictions": "permit_mynetworks,reject",
                                             "smtpd_end_of_data_restrictions": ""}),
        }, extra_main={
            "smtpd_recipient_restrictions": f"{svc}, permit_mynetworks, reject",
            "smtpd_end_of_data_restrictions": svc,
            "smtpd_policy_service_default_action": "451 4.3.0 rampart: pacing service unavailable, try again later",
            # Postfix's cleanup would add a missing Date and Message-ID for local clients before
            # the milter sees the headers; as for a remote submission, leave that to the milter.
            "local_header_rewrite_clients": "",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.postfix.stop()
        rcs = (cls.milter.stop(), cls.policyd.stop())
        cls.sink.stop()
        if any(rc not in (0, None) for rc in rcs):
            print(cls.milter.log()[-3000:], cls.policyd.log()[-3000:])
        env.cleanup_tmpdir(cls.tmp)

    def setUp(self):
        self.sink.clear()

    # ------------------------------------------------------------------ helpers
    def send(self, data, rcpts=("bob@remote.test",), sender="alice@example.com", port=None):
        return swaks(port or self.port, sender, list(rcpts), data=data)

    def delivered(self, n=1, timeout=30):
        env.wait_for(lambda: self.sink.count() >= n, timeout=timeout,
                     what=f"{n} message(s) at the sink\n{self.postfix.log()[-3000:]}\n{self.milter.log()[-2000:]}")
        time.sleep(0.3)
        return self.sink.messages()

    def ctl(self, *args, check=True, input=None):
        return subprocess.run([env.binary("rampartctl"), "-c", self.conf, *args], input=input, capture_output=True,
                              text=True, check=check, timeout=60)

    def ingest(self, message, recipient=None):
        args = ["ingest"] + (["--recipient", recipient] if recipient else [])
        r = self.ctl(*args, input=message, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def assert_refused_soon(self, rcpt, pattern=r"550 5\.7\.1", port=None):
        """The daemons see a list change within a second."""
        time.sleep(1.2)
        code, out = self.send(clean(to=rcpt), rcpts=[rcpt], port=port)
        self.assertNotEqual(code, 0, out)
        self.assertRegex(out, pattern)
        time.sleep(1.0)
        self.assertEqual(self.sink.count(), 0, "a message to a suppressed address was delivered")

    def delivered_one(self, rcpt):
        code, out = self.send(clean(to=rcpt), rcpts=[rcpt])
        self.assertEqual(code, 0, out)
        (path, envl, data), = self.delivered()
        self.sink.clear()
        return path, envl, data

    # ------------------------------------------------------------------ tests
    def test_defective_message_arrives_repaired_and_signed_over_the_stamps(self):
        code, out = self.send(defective())
        self.assertEqual(code, 0, out)
        (path, _, data), = self.delivered()
        text = data.decode("ascii", errors="strict")  # no raw 8-bit left in the header
        head = text.split("\r\n\r\n" if "\r\n\r\n" in text else "\n\n", 1)[0]
        self.assertIsNotNone(header(data, "Date"), head)
        self.assertRegex(header(data, "Message-ID"), r"^<[^@>]+@example\.com>$")
        self.assertRegex(header(data, "Subject"), r"=\?UTF-8\?[BQ]\?")
        for gone in ("X-Mailer", "X-Originating-IP", "Authentication-Results"):
            self.assertIsNone(header(data, gone), f"{gone} was not stripped:\n{head}")
        self.assertNotIn("192.168.1.17", head)
        lu = header(data, "List-Unsubscribe")
        self.assertRegex(lu, r"^<https://unsub\.example\.com/u/[A-Za-z0-9_-]{40,}>, "
                             r"<mailto:unsubscribe@example\.com\?subject=unsubscribe%20[A-Za-z0-9_-]{40,}>$")
        self.assertEqual(header(data, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click")
        self.assertRegex(header(data, "X-Rampart-Ref"), r"^[A-Za-z0-9_-]{40,}$")
        results = daemons.verify_all(self.keysfile, [path], require=1)
        self.assertIn(" pass", results["dkimpy"])
        self.assertIn(" pass", results["libopendkim"])
        sig = re.sub(r"\s+", "", header(data, "DKIM-Signature"))
        h = re.search(r"h=([^;]*)", sig).group(1).lower().split(":")
        for name in ("list-unsubscribe", "list-unsubscribe-post", "x-rampart-ref", "date", "message-id"):
            self.assertIn(name, h)
        line = self.milter.wait_log("added List-Unsubscribe")
        for note in ("added Date", "Message-ID", "X-Mailer", "Received"):
            self.assertIn(note, line)

    def test_hygiene_reject_duplicate_from(self):
        code, out = self.send(clean(extra="From: Mallory <mallory@example.com>\n"))
        self.assertNotEqual(code, 0, out)
        self.assertRegex(out, r"550 5\.7\.1")
        time.sleep(1.0)
        self.assertEqual(self.sink.count(), 0)

    def test_suppressed_recipient_refused_others_delivered(self):
        self.ctl("suppress", "add", "carol@remote.test", "--reason", "hard_bounce")
        time.sleep(1.2)
        for port, who in ((self.port, "policyd"), (self.nopolicy_port, "milter")):
            self.sink.clear()
            code, out = self.send(clean(to="bob@remote.test, carol@remote.test"),
                                  rcpts=["bob@remote.test", "Carol@Remote.test"], port=port)
            self.assertRegex(out, r"550 5\.7\.1 <Carol@Remote\.test>.*suppression list \(hard_bounce\)", who)
            (_, envl, _), = self.delivered()
            self.assertEqual(envl["rcpt_to"], ["bob@remote.test"], who)
        self.policyd.wait_log("suppressed: from=<alice@example.com> to=<Carol@Remote.test>")
        self.milter.wait_log("recipient <Carol@Remote.test> refused: 550 5.7.1")

    def test_from_domain_suppression_removes_the_recipient_at_end_of_message(self):
        self.ctl("suppress", "add", "dave@remote.test", "--scope", "from_domain:example.com", "--reason", "manual")
        time.sleep(1.2)
        code, out = self.send(clean(to="bob@remote.test, dave@remote.test"), rcpts=["bob@remote.test", "dave@remote.test"])
        self.assertEqual(code, 0, out)
        (_, envl, _), = self.delivered()
        self.assertEqual(envl["rcpt_to"], ["bob@remote.test"])
        self.milter.wait_log("removed <dave@remote.test>")
        # Alone, the message is refused: no recipient remains.
        self.sink.clear()
        code, out = self.send(clean(to="dave@remote.test"), rcpts=["dave@remote.test"])
        self.assertNotEqual(code, 0, out)
        self.assertRegex(out, r"550 5\.7\.1 every recipient is on the suppression list of example\.com")

    def test_one_click_post_suppresses_the_next_message(self):
        _, _, data = self.delivered_one("erin@remote.test")
        url = re.search(r"<https://unsub\.example\.com(/u/[A-Za-z0-9_-]+)>", header(data, "List-Unsubscribe")).group(1)
        local = f"http://127.0.0.1:{self.http_port}{url}"
        # A GET (a mail scanner following links) shows a page and changes nothing.
        get = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", local], capture_output=True, text=True)
        self.assertEqual(get.stdout, "200")
        self.assertNotEqual(self.ctl("suppress", "check", "erin@remote.test", "--tenant", "acme", check=False).returncode, 0)
        # A tampered token: 400, nothing changes.
        bad = local[:-3] + ("AAA" if not local.endswith("AAA") else "BBB")
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-d",
                            "List-Unsubscribe=One-Click", bad], capture_output=True, text=True)
        self.assertEqual(r.stdout, "400")
        # RFC 8058 one-click, as Gmail sends it: 200, no redirect.
        r = subprocess.run(["curl", "-s", "-i", "-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                            "-H", "Cookie: session=ignored", "-d", "List-Unsubscribe=One-Click", local],
                           capture_output=True, text=True)
        self.assertRegex(r.stdout, r"^HTTP/1\.1 200")
        self.assertNotIn("Location:", r.stdout)
        self.assertNotIn("Set-Cookie:", r.stdout)
        check = self.ctl("suppress", "check", "erin@remote.test", "--tenant", "acme", check=False)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("unsubscribe", check.stdout)
        self.assert_refused_soon("erin@remote.test")

    def test_hard_bounce_dsn_suppresses_spam_block_dsn_does_not(self):
        out = self.ingest(dsn("frank@remote.test", "5.1.1",
                              "550 5.1.1 The email account that you tried to reach does not exist."))
        self.assertIn("suppressed hard_bounce frank@remote.test", out)
        self.assert_refused_soon("frank@remote.test")
        self.sink.clear()
        out = self.ingest(dsn("gina@remote.test", "5.7.1",
                              "550 5.7.1 Our system has detected that this message is likely unsolicited mail. "
                              "To reduce the amount of spam sent to Gmail, this message has been blocked."))
        self.assertIn("sender-policy", out)
        self.assertNotIn("suppressed", out.replace("not suppressed", ""))
        time.sleep(1.2)
        self.delivered_one("gina@remote.test")

    def test_redacted_complaint_is_mapped_through_the_reference_stamp(self):
        _, _, data = self.delivered_one("hank@remote.test")
        headers = data.decode().replace("\r\n", "\n").split("\n\n", 1)[0]
        self.assertIn("X-Rampart-Ref:", headers)
        out = self.ingest(arf_redacted(headers))
        self.assertIn("recipient from the reference stamp", out)
        self.assertIn("complaint hank@remote.test (tenant:acme)", out)
        self.assert_refused_soon("hank@remote.test")

    def test_mailto_unsubscribe_through_ingest(self):
        _, _, data = self.delivered_one("iris@remote.test")
        token = re.search(r"subject=unsubscribe%20([A-Za-z0-9_-]+)>", header(data, "List-Unsubscribe")).group(1)
        mail = (f"From: iris@remote.test\nTo: unsubscribe@example.com\nSubject: unsubscribe {token}\n"
                f"Date: Sun, 22 Nov 2026 10:00:00 +0000\n\n")
        out = self.ingest(mail, recipient="unsubscribe@example.com")
        self.assertIn("unsubscribe iris@remote.test (tenant:acme)", out)
        self.assert_refused_soon("iris@remote.test")

    def test_garbage_on_ingest_exits_zero_and_changes_nothing(self):
        before = self.ctl("suppress", "list").stdout
        out = self.ingest("this is not a mail at all\x00\x01\n\n--")
        self.assertIn("nothing done", out)
        self.assertEqual(self.ctl("suppress", "list").stdout, before)

    def test_message_refused_at_end_of_message_gives_its_cap_slot_back(self):
        # pacing.test mailboxes may send 2 recipients a day. A message the milter refuses at
        # end-of-message (two From fields) was counted by policyd's END-OF-MESSAGE check first; the
        # milter's refund must give the slot back, so two good messages still go through.
        sender = "jo@pacing.test"
        code, out = self.send(clean(extra="From: Other <other@example.com>\n"), rcpts=["kim@remote.test"], sender=sender)
        self.assertRegex(out, r"550 5\.7\.1")
        self.policyd.wait_log("refund: refunded 1 recipient")
        self.milter.wait_log("refund after reject: rampart-policyd says OK refunded 1 recipient")
        for i in range(2):
            code, out = self.send(clean(), rcpts=[f"r{i}@remote.test"], sender=sender)
            self.assertEqual(code, 0, out)
        self.delivered(2)
        code, out = self.send(clean(), rcpts=["r3@remote.test"], sender=sender)
        self.assertRegex(out, r"4\.7\.1 .*reached cap 2/day")


if __name__ == "__main__":
    unittest.main(verbosity=2)
