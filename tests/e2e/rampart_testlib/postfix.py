"""A private Postfix instance on loopback: its own config and queue directories under a temp dir,
smtpd on 127.0.0.1:<port>, relaying everything to a sink. Started and stopped by the tests; it never
touches /etc/postfix or a running system Postfix.
"""
import os
import re
import subprocess
import time

from . import env

MASTER_CF = """\
{listeners}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PrivatePostfix:
    """smtpd listeners: {"name": (port, {"option": "value"})}; the first is the default submission port."""

    def __init__(self, workdir, relay_port, milter_socket=None, listeners=None, extra_main=None):
        self.workdir = workdir
        self.conf = os.path.join(workdir, "postfix-conf")
        self.spool = os.path.join(workdir, "postfix-spool")
        self.data = os.path.join(workdir, "postfix-data")
        self.maillog = os.path.join(workdir, "maillog")
        self.relay_port = relay_port
        self.milter_socket = milter_socket
        self.listeners = listeners or {"submission": (env.free_port(), {})}
        self.extra_main = extra_main or {}
        self.started = False
        for d in (self.conf, self.spool, self.data):
            os.makedirs(d, exist_ok=True)
        os.chown(self.data, *_postfix_ids())

    @property
    def port(self):
        return next(iter(self.listeners.values()))[0]

    def main_cf(self):
        milters = ""
        if self.milter_socket:
            milters = "{ unix:%s, default_action=tempfail, command_timeout=30s, content_timeout=60s }" % self.milter_socket
        lines = {
            "compatibility_level": "3.6",
            "queue_directory": self.spool,
            "data_directory": self.data,
            "command_directory": "/usr/sbin",
            "daemon_directory": "/usr/lib/postfix/sbin",
            "meta_directory": "/etc/postfix",
            "shlib_directory": "/usr/lib/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mta.rampart.test",
            "mydomain": "rampart.test",
            "myorigin": "$mydomain",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "[127.0.0.1]:%d" % self.relay_port,
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_milters": milters,
            "non_smtpd_milters": "",
            "milter_default_action": "tempfail",
            "milter_protocol": "6",
            "maillog_file_prefixes": "/var, /dev/stdout, %s" % self.workdir,
            "maillog_file": self.maillog,
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtputf8_enable": "no",
            "disable_mime_output_conversion": "yes",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_connect_timeout": "5s",
            "smtpd_client_connection_count_limit": "0",
        }
        lines.update(self.extra_main)
        return "".join(f"{k} = {v}\n" for k, v in lines.items())

    def master_cf(self):
        listeners = []
        for name, (port, opts) in self.listeners.items():
            line = f"127.0.0.1:{port} inet n - n - - smtpd"
            for k, v in opts.items():
                line += f"\n  -o {k}={v}"
            listeners.append(line)
        return MASTER_CF.format(listeners="\n".join(listeners))

    def write_config(self):
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(self.main_cf())
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(self.master_cf())

    def postfix(self, *args, check=True):
        return env.run(["postfix", "-c", self.conf, *args], check=check)

    def start(self):
        self.write_config()
        self.postfix("check", check=False)
        self.postfix("start")
        self.started = True
        for port, _ in self.listeners.values():
            env.wait_for(lambda: env.port_open(port), timeout=20, what=f"postfix smtpd on port {port}")
        return self

    def reload(self):
        self.write_config()
        self.postfix("reload")
        time.sleep(1.0)  # smtpd processes pick up the new config on their next connection

    def stop(self):
        if self.started:
            self.postfix("stop", check=False)
            self.started = False

    def queue_count(self):
        n = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            d = os.path.join(self.spool, sub)
            for _root, _dirs, files in os.walk(d):
                n += len(files)
        return n

    def flush(self):
        env.run(["postqueue", "-c", self.conf, "-f"], check=False)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, pattern):
        return [l for l in self.log().splitlines() if re.search(pattern, l)]


def _postfix_ids():
    import pwd
    pw = pwd.getpwnam("postfix")
    return pw.pw_uid, pw.pw_gid


def swaks(port, sender, recipients, data=None, extra=None, timeout=60):
    """Submits one message with swaks; returns (exit code, transcript)."""
    cmd = ["swaks", "--server", f"127.0.0.1:{port}", "--from", sender, "--to", ",".join(recipients),
           "--timeout", "30", "--hide-informational"]
    if data is not None:
        cmd += ["--data", "-"]
    cmd += extra or []
    r = subprocess.run(cmd, input=data, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr
