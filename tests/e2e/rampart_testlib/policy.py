"""A Postfix-policy-protocol client for tests: persistent connections (as Postfix's smtpd keeps them)
and one-shot requests with a half-close (as Exim's ${readsocket} sends them)."""
import socket


def _connect(address):
    if address.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address[5:])
    else:
        host, port = address[5:].rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(30)
    return s


def encode(attrs):
    return ("".join(f"{k}={v}\n" for k, v in attrs.items()) + "\n").encode()


def rcpt(sender, recipient, instance, **extra):
    a = {"request": "smtpd_access_policy", "protocol_state": "RCPT", "sender": sender,
         "recipient": recipient, "instance": instance, "client_address": "127.0.0.1"}
    a.update(extra)
    return a


def eom(instance, queue_id, count=1, **extra):
    a = {"request": "smtpd_access_policy", "protocol_state": "END-OF-MESSAGE", "instance": instance,
         "queue_id": queue_id, "recipient_count": str(count)}
    a.update(extra)
    return a


class Connection:
    """A persistent policy connection."""

    def __init__(self, address):
        self.sock = _connect(address)
        self.buf = b""

    def ask(self, attrs):
        self.sock.sendall(encode(attrs))
        return self.read_reply()

    def read_reply(self):
        while b"\n\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("policy server closed the connection")
            self.buf += d
        reply, self.buf = self.buf.split(b"\n\n", 1)
        text = reply.decode()
        assert text.startswith("action="), text
        return text[len("action="):]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def one_shot(address, attrs):
    """Exim style: write the request, half-close, read until the server closes."""
    s = _connect(address)
    s.sendall(encode(attrs))
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    text = data.decode()
    assert text.startswith("action=") and text.endswith("\n\n"), repr(text)
    return text[len("action="):-2]


def control(path, line):
    """A command on rampart-policyd's control socket (what rampartctl sends)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data.decode()
