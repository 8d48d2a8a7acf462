"""A small SMTP sink: accepts every message and stores it byte-exact (CRLF) with its envelope.

Postfix relays to it as its relayhost. Each message becomes NNNN.eml plus NNNN.json
({"mail_from":..., "rcpt_to": [...]}) in the sink directory.
"""
import json
import os
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    def _send(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        sink = self.server.sink
        self._send("220 sink.test ESMTP rampart test sink")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n")
            elif verb == "MAIL":
                mail_from, rcpts = cmd.split(":", 1)[1].strip().split(" ")[0].strip("<>"), []
                self._send("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpts.append(cmd.split(":", 1)[1].strip().split(" ")[0].strip("<>"))
                self._send("250 2.1.5 ok")
            elif verb == "DATA":
                self._send("354 go ahead")
                data = bytearray()
                while True:
                    l = self.rfile.readline(1 << 20)
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    data += l
                sink.store(bytes(data), mail_from, rcpts)
                self._send("250 2.0.0 stored")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self._send("250 ok")
            elif verb == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("250 ok")


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


class SmtpSink:
    def __init__(self, directory, port=0):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self._lock = threading.Lock()
        self._n = 0
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def store(self, data, mail_from, rcpts):
        with self._lock:
            self._n += 1
            base = os.path.join(self.directory, f"{self._n:05d}")
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": mail_from, "rcpt_to": rcpts}, f)
        with open(base + ".eml", "wb") as f:
            f.write(data)

    def messages(self):
        """[(path, envelope dict, bytes)] in arrival order."""
        out = []
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(".eml"):
                p = os.path.join(self.directory, name)
                with open(p[:-4] + ".json") as f:
                    env = json.load(f)
                with open(p, "rb") as f:
                    out.append((p, env, f.read()))
        return out

    def count(self):
        return sum(1 for n in os.listdir(self.directory) if n.endswith(".eml"))

    def clear(self):
        for n in os.listdir(self.directory):
            os.unlink(os.path.join(self.directory, n))
