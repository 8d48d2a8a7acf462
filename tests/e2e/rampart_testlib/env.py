"""Test environment: where the build is, temp dirs, free ports, waiting with deadlines."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD_DIR = os.environ.get("RAMPART_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))


def binary(name):
    """Path of a built program (rampart-milter, rampartctl, odkim-verify...)."""
    for sub in ("milter", "policyd", "ctl", "tests/tools", "."):
        p = os.path.join(BUILD_DIR, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{name} not found under {BUILD_DIR} (build first)")


def require_root():
    if os.geteuid() != 0:
        raise SystemExit("end-to-end tests start a private Postfix and must run as root")


def rampart_account():
    """The unprivileged account the daemons drop to (created by scripts/setup.sh)."""
    try:
        pwd.getpwnam("rampart")
        return "rampart"
    except KeyError:
        raise SystemExit("user 'rampart' is missing: run scripts/setup.sh (useradd --system rampart)")


def make_tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("RAMPART_TEST_TMP", "/tmp"))
    os.chmod(d, 0o755)
    return d


def cleanup_tmpdir(d):
    if os.environ.get("RAMPART_KEEP_TMP"):
        print(f"keeping {d}")
        return
    shutil.rmtree(d, ignore_errors=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    """Polls predicate() until true; raises AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def run(cmd, check=True, **kw):
    """Runs a command, returns CompletedProcess with text output."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r
