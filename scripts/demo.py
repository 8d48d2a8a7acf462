#!/usr/bin/python3
"""Rampart demo: a private Postfix on loopback with rampart-milter in front, a loopback DNS server
publishing the DKIM keys, and an SMTP sink standing in for the Internet. It shows, step by step:
keys generated and checked against DNS, messages signed with RSA and Ed25519 and verified by two
independent verifiers, a message that cannot be signed aligned being refused instead of sent, and
a message with defects arriving repaired and signed over its one-click unsubscribe headers, a
suppressed recipient refused while the others are delivered, a one-click unsubscribe taking effect
on the next message, and rampart-policyd pacing a new mailbox: its warmup cap reached, the deferral
text, and its status."""
import os
import re
import sys
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from rampart_testlib import env, daemons  # noqa: E402
from rampart_testlib.dnsmasq import LoopbackDns  # noqa: E402
from rampart_testlib.postfix import PrivatePostfix, swaks  # noqa: E402
from rampart_testlib.sink import SmtpSink  # noqa: E402

BOLD, DIM, GREEN, RED, END = "\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m"
if not sys.stdout.isatty():
    BOLD = DIM = GREEN = RED = END = ""


def step(title):
    print(f"\n{BOLD}== {title}{END}")


def show(text, indent="   "):
    print(textwrap.indent(text.rstrip("\n"), indent))


def message(sender, subject, to="Bob Prospect <bob@prospect.example>"):
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\n"
            f"Message-ID: <{time.time_ns()}@demo.rampart>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
            f"Hi Bob,\n\nquick question about your roadmap.\n\nAlice\n")


def main():
    env.require_root()
    env.rampart_account()
    tmp = env.make_tmpdir("rampart-demo-")
    procs = []
    try:
        step("1. Keys: rampartctl dkim keygen (RSA-2048 and Ed25519 for acme-mail.com)")
        keydir = os.path.join(tmp, "keys")
        os.makedirs(keydir, mode=0o755)
        keys = {}
        for sel, typ in (("rsa2026", "rsa"), ("ed2026", "ed25519")):
            path = os.path.join(keydir, f"{sel}.private")
            out = daemons.rampartctl("dkim", "keygen", "acme-mail.com", sel, "--type", typ, "--output", path,
                                     "--owner", "rampart").stdout
            show(out.split("\n\n")[0])
            keys[sel] = (path, daemons.rampartctl("dkim", "record", path).stdout.strip())
        keytable = os.path.join(tmp, "key.table")
        with open(keytable, "w") as f:
            for sel, (path, _) in keys.items():
                f.write(f"{sel}._domainkey.acme-mail.com acme-mail.com:{sel}:{path}\n")
        signing = os.path.join(tmp, "signing.table")
        with open(signing, "w") as f:
            f.write("*@acme-mail.com rsa2026._domainkey.acme-mail.com\n*@acme-mail.com ed2026._domainkey.acme-mail.com\n"
                    "*@*.acme-mail.com rsa2026._domainkey.acme-mail.com\n")

        step("2. DNS: publish the records on a loopback DNS server and check them")
        dns = LoopbackDns()
        for sel, (_, rec) in keys.items():
            dns.txt(f"{sel}._domainkey.acme-mail.com", rec)
        dns.start()
        procs.append(dns)
        conf = os.path.join(tmp, "rampart.conf")
        sock = os.path.join(tmp, "run", "milter.sock")
        settings = {
            "milter_listen": f"unix:{sock}",
            "milter_pid_file": "",
            "dkim_key_table": f"file:{keytable}",
            "dkim_signing_table": f"refile:{signing}",
            "dkim_key_dns_check": "enforce",
            "dns_servers": dns.address,
            "dns_timeout": "2s",
        }
        http_port = env.free_port()
        daemons.write_config(conf, settings)
        show(daemons.rampartctl("dkim", "check", config=conf).stdout)
        show(daemons.rampartctl("check-config", config=conf).stdout)

        step("3. A private Postfix on loopback: rampart-milter on smtpd_milters, rampart-policyd on check_policy_service")
        limits = os.path.join(tmp, "limits.conf")
        with open(limits, "w") as f:
            f.write("# A new cold mailbox: 3 recipients on its first sending day, then 5, 8, 12...\n"
                    "[cold-mailbox]\nscope  = mailbox\nwarmup = cold-mailbox\n\n"
                    "[warmup cold-mailbox]\ndays = 3, 5, 8, 12, 16, 20, 25, 30, 35, 40\n")
        psock = os.path.join(tmp, "run", "policy.sock")
        tenants = os.path.join(tmp, "tenants")
        with open(tenants, "w") as f:
            f.write("# login or sender pattern   tenant (a customer of the sysadmin)\n*@acme-mail.com  acme\n")
        settings.update({"policyd_listen": f"unix:{psock}", "policyd_control_socket": f"unix:{os.path.join(tmp, 'run', 'control.sock')}",
                         "policyd_limits": limits, "policyd_store": f"journal:{os.path.join(tmp, 'policyd')}",
                         "policyd_pid_file": "",
                         # One-click unsubscribe links, reference stamps, and the endpoint (policyd).
                         "unsubscribe_url": "https://unsub.acme-mail.com/u/",
                         "unsubscribe_mailto": "unsubscribe@acme-mail.com",
                         "unsubscribe_secret": "demo-secret-" + os.urandom(12).hex(),
                         "unsubscribe_listen": f"inet:127.0.0.1:{http_port}",
                         "milter_refund_socket": f"unix:{psock}",
                         "tenant_map": f"file:{tenants}"})
        daemons.write_config(conf, settings)
        show(open(limits).read())
        sink = SmtpSink(os.path.join(tmp, "sink")).start()
        milter = daemons.Daemon("rampart-milter", conf, os.path.join(tmp, "milter.log")).start(wait_unix=sock)
        procs.append(milter)
        policyd = daemons.Daemon("rampart-policyd", conf, os.path.join(tmp, "policyd.log")).start(wait_unix=psock)
        procs.append(policyd)
        svc = f"check_policy_service {{ unix:{psock}, timeout=10s }}"
        postfix = PrivatePostfix(tmp, sink.port, milter_socket=sock, extra_main={
            "smtpd_recipient_restrictions": svc, "smtpd_end_of_data_restrictions": svc,
            "smtpd_policy_service_default_action": "451 4.3.0 rampart: pacing service unavailable",
            # Leave missing Date and Message-ID to rampart-milter's hygiene (as for remote submissions).
            "local_header_rewrite_clients": ""}).start()
        procs.append(postfix)
        show(f"smtpd on 127.0.0.1:{postfix.port}, relayhost = the sink on 127.0.0.1:{sink.port}, config in {postfix.conf}")

        step("4. Send: alice@acme-mail.com and news@news.acme-mail.com (signed), x@unknown-brand.example (no key)")
        keysfile = daemons.write_keys_file(os.path.join(tmp, "verify.keys"),
                                           {f"{sel}._domainkey.acme-mail.com": rec for sel, (_, rec) in keys.items()})
        for sender in ("Alice <alice@acme-mail.com>", "Newsletter <news@news.acme-mail.com>", "X <x@unknown-brand.example>"):
            addr = re.search(r"<(.*)>", sender).group(1)
            code, out = swaks(postfix.port, addr, ["bob@prospect.example"], data=message(sender, "Quick question"))
            queued = [l for l in out.splitlines() if "queued as" in l]
            refused = [l for l in out.splitlines() if re.search(r"\b[45]\d\d [45]\.\d+\.\d+ ", l)]
            if code == 0:
                show(f"{addr}: {GREEN}accepted{END}: {queued[-1].strip() if queued else 'queued'}")
            else:
                show(f"{addr}: {RED}refused{END}: {refused[-1].strip() if refused else out.strip()[-300:]}")
        env.wait_for(lambda: sink.count() >= 2, timeout=30, what="two delivered messages")
        time.sleep(0.5)

        step("5. What reached the Internet (the sink): DKIM-Signature headers")
        paths = []
        for path, envl, data in sink.messages():
            paths.append(path)
            head = data.split(b"\r\n\r\n", 1)[0].decode()
            sigs = re.findall(r"(?ms)^DKIM-Signature:.*?(?=^\S)", head + "\r\nX:")
            print(f"   {os.path.basename(path)}: from {envl['mail_from']} -> {', '.join(envl['rcpt_to'])}")
            for s in sigs:
                show(re.sub(r"b=[\sA-Za-z0-9+/=]+$", "b=...", s.strip()), indent="      ")

        step("6. Independent verification: libopendkim and dkimpy, public keys from DNS records")
        results = daemons.verify_all(keysfile, paths)
        for name, out in results.items():
            show(f"{name}:\n" + textwrap.indent(out, "  "))

        step("7. Hygiene: a message with defects (no Date, no Message-ID, raw 8-bit Subject, X-Mailer, a private Received)")
        sink.clear()
        bad = ("Received: from pc17 ([192.168.1.17]) by crm.local; Sun, 22 Nov 2026 09:59:00 +0000\n"
               "From: Sales <sales@acme-mail.com>\nTo: carol@prospect.example\nSubject: Grüße aus Köln\n"
               "X-Mailer: PHPMailer 6.1.4\nX-Originating-IP: [192.168.1.17]\n\nHello Carol,\n\nSales\n")
        show("sent:\n" + textwrap.indent(bad.split("\n\n")[0], "   "))
        code, out = swaks(postfix.port, "sales@acme-mail.com", ["carol@prospect.example"], data=bad)
        env.wait_for(lambda: sink.count() >= 1, timeout=30, what="the repaired message")
        time.sleep(0.3)
        (rpath, _, rdata), = sink.messages()
        rhead = rdata.split(b"\r\n\r\n", 1)[0].decode()
        rhead = re.sub(r"(?ms)^DKIM-Signature:.*?(?=^\S)", "DKIM-Signature: ... (signed over everything below)\r\n", rhead + "\r\nX:")[:-3]
        rhead = re.sub(r"(?m)^(Received: from mta\.rampart\.test.*?)(?=^\S)", "", rhead, flags=re.S)
        show("arrived:\n" + textwrap.indent(rhead.replace("\r\n", "\n").strip(), "   "))
        line = [l for l in milter.log().splitlines() if "sales@acme-mail.com" in l and "signed:" in l][-1]
        show(f"{GREEN}the milter's log line{END}: " + line.split(" rampart-milter", 1)[-1].split(": ", 1)[-1])
        results = daemons.verify_all(keysfile, [rpath])
        for name, out in results.items():
            show(f"{name}: " + "; ".join(l.split(os.sep)[-1] for l in out.strip().splitlines()))

        step("8. Suppression: rampartctl suppress add dan@prospect.example --reason hard_bounce; then mail to bob and dan")
        show(daemons.rampartctl("suppress", "add", "dan@prospect.example", "--reason", "hard_bounce", config=conf).stdout)
        time.sleep(1.2)
        sink.clear()
        code, out = swaks(postfix.port, "sales@acme-mail.com", ["bob@prospect.example", "dan@prospect.example"],
                          data=message("Sales <sales@acme-mail.com>", "Follow-up", to="bob@prospect.example, dan@prospect.example"))
        show("\n".join(l.strip() for l in out.splitlines() if re.search(r"RCPT TO|Recipient address rejected", l)))
        env.wait_for(lambda: sink.count() >= 1, timeout=30, what="the message to bob")
        time.sleep(0.3)
        show(f"delivered to: {', '.join(sink.messages()[0][1]['rcpt_to'])} {GREEN}(dan refused, bob delivered){END}")

        step("9. One-click unsubscribe: carol POSTs the link of the message she got (as Gmail does for her)")
        lu = re.search(r"(?ms)^List-Unsubscribe: (.*?)\r\n(?=\S)", rdata.decode()).group(1)
        path = re.search(r"<https://unsub\.acme-mail\.com(/u/[A-Za-z0-9_-]+)>", lu).group(1)
        show(f"List-Unsubscribe: {re.sub(r'[A-Za-z0-9_-]{40,}', lambda m: m.group(0)[:16] + '...', lu)}")
        r = env.run(["curl", "-s", "-i", "-X", "POST", "-d", "List-Unsubscribe=One-Click",
                     f"http://127.0.0.1:{http_port}{path}"], check=False)
        show("curl -X POST -d List-Unsubscribe=One-Click http://127.0.0.1:%d/u/...  ->  %s" %
             (http_port, r.stdout.splitlines()[0] if r.stdout else r.stderr))
        show(daemons.rampartctl("suppress", "check", "carol@prospect.example", "--tenant", "acme",
                                config=conf, check=False).stdout)
        time.sleep(1.2)
        code, out = swaks(postfix.port, "sales@acme-mail.com", ["carol@prospect.example"],
                          data=message("Sales <sales@acme-mail.com>", "Checking in", to="carol@prospect.example"))
        refused = [l.strip() for l in out.splitlines() if "suppression list" in l]
        show(f"next message to carol: {RED}refused{END}: {refused[-1] if refused else out[-300:]}")

        step("10. Pacing: alice@acme-mail.com is a new mailbox; day 1 of its warmup allows 3 recipients")
        for n in range(4):
            code, out = swaks(postfix.port, "alice@acme-mail.com", [f"lead{n}@prospect.example"],
                              data=message("Alice <alice@acme-mail.com>", f"Intro {n}", to=f"lead{n}@prospect.example"))
            if code == 0:
                show(f"message {n + 2} from alice: {GREEN}accepted{END}")
            else:
                text = [l for l in out.splitlines() if "rampart:" in l]
                show(f"message {n + 2} from alice: {RED}deferred{END}: {text[-1].strip() if text else out[-300:]}")
        show(daemons.rampartctl("status", config=conf).stdout)

        step("11. The logs: one line per message (milter, with the queue id) and per decision (policyd)")
        show("\n".join(l for l in milter.log().splitlines() if re.search(r": (signed|tempfail|passed|accepted|reject):|refused:|refund after", l)))
        show("\n".join(l for l in policyd.log().splitlines() if re.search(r"(counted|defer:|suppressed:|one-click:)", l)))
        print(f"\n{GREEN}{BOLD}Demo complete.{END} (Run with RAMPART_KEEP_TMP=1 to keep {tmp}.)")
    finally:
        for p in reversed(procs):
            try:
                p.stop()
            except Exception as e:  # keep cleaning up
                print(f"stop failed: {e}")
        env.cleanup_tmpdir(tmp)


if __name__ == "__main__":
    main()
