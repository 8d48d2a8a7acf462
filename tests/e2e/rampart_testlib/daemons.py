"""Rampart's own programs under test: config files, DKIM keys, daemon processes, verification."""
import os
import pwd
import signal
import subprocess
import time

from . import env


def state_dir(base):
    """A directory the daemons (user rampart) own, like /var/lib/rampart: the suppression list lives
    there, so root's rampartctl and the daemons can both write it."""
    d = os.path.join(base, "lib")
    os.makedirs(d, mode=0o750, exist_ok=True)
    pw = pwd.getpwnam(env.rampart_account())
    os.chown(d, pw.pw_uid, pw.pw_gid)
    return d


def write_config(path, settings):
    """Writes rampart.conf from a dict (values as text). Keys that would point at the system's own
    files default to the test's directory: the suppression list, and no refunds to a system policyd."""
    settings = dict(settings)
    if "suppression_list" not in settings:
        settings["suppression_list"] = "sqlite:" + os.path.join(state_dir(os.path.dirname(os.path.abspath(path))),
                                                                 "suppression.db")
    settings.setdefault("milter_refund_socket", "")
    with open(path, "w") as f:
        for k, v in settings.items():
            f.write(f"{k} = {v}\n")
    return path


def rampartctl(*args, config=None, check=True):
    cmd = [env.binary("rampartctl")]
    if config:
        cmd += ["-c", config]
    return env.run(cmd + list(args), check=check)


def make_key(keydir, domain, selector, type_="rsa", bits=None, owner="rampart"):
    """Generates a key with rampartctl; returns (path, TXT record value)."""
    path = os.path.join(keydir, f"{selector}.{domain}.private")
    args = ["dkim", "keygen", domain, selector, "--type", type_, "--output", path, "--owner", owner]
    if bits:
        args += ["--bits", str(bits)]
    rampartctl(*args)
    record = rampartctl("dkim", "record", path).stdout.strip()
    return path, record


class Daemon:
    """A Rampart daemon in --foreground mode, its stderr captured to a log file."""

    def __init__(self, program, config_path, log_path, args=()):
        self.program = program
        self.config_path = config_path
        self.log_path = log_path
        self.args = list(args)
        self.proc = None

    def start(self, wait_unix=None, wait_port=None, timeout=30):
        if wait_unix and os.path.exists(wait_unix):
            os.unlink(wait_unix)  # left by a killed predecessor: wait for the new one
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([env.binary(self.program), "-c", self.config_path, "--foreground", *self.args],
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        if wait_unix:
            env.wait_for(lambda: os.path.exists(wait_unix) or self.proc.poll() is not None, timeout=timeout,
                         what=f"{self.program} socket {wait_unix}")
        if wait_port:
            env.wait_for(lambda: env.port_open(wait_port) or self.proc.poll() is not None, timeout=timeout,
                         what=f"{self.program} port {wait_port}")
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.program} exited with {self.proc.returncode}:\n{self.log()}")
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def hup(self):
        self.signal(signal.SIGHUP)

    def stop(self, timeout=20):
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.program} did not stop within {timeout}s of SIGTERM")

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=20, after=0):
        """Waits until `text` appears in the log after byte offset `after`; returns the matching line."""
        def found():
            for line in self.log()[after:].splitlines():
                if text in line:
                    return line
            return None
        return env.wait_for(found, timeout=timeout, what=f"'{text}' in {self.log_path}")

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0


def write_keys_file(path, records):
    """records: {"sel._domainkey.example.com": "v=DKIM1; ..."} -> the verifiers' key file."""
    with open(path, "w") as f:
        for name, txt in records.items():
            f.write(f"{name} {txt}\n")
    return path


def verify_all(keys_file, eml_paths, require=None):
    """Verifies messages with libopendkim (odkim-verify) and dkimpy. Returns {verifier: stdout}; raises
    AssertionError with both outputs unless every signature passes in both."""
    out = {}
    extra = ["--require", str(require)] if require else []
    cmds = {
        "libopendkim": [env.binary("odkim-verify"), "--keys", keys_file, *extra, *eml_paths],
        "dkimpy": ["/usr/bin/python3", os.path.join(env.SOURCE_DIR, "tests", "tools", "dkimpy_verify.py"),
                   "--keys", keys_file, *extra, *eml_paths],
    }
    failures = []
    for name, cmd in cmds.items():
        r = subprocess.run(cmd, capture_output=True, text=True)
        out[name] = r.stdout
        if r.returncode != 0:
            failures.append(f"{name} exit {r.returncode}:\n{r.stdout}{r.stderr}")
    if failures:
        raise AssertionError("DKIM verification failed:\n" + "\n".join(failures))
    return out
