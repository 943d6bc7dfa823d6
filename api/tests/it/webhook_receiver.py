"""A webhook receiver for the webhook tests, independent of Kefu's code: it verifies every
request's signature with the Standard Webhooks reference library (`standardwebhooks` from PyPI)
and prints one JSON line per request on stdout.

    python webhook_receiver.py PORT SECRETS_FILE

SECRETS_FILE holds the secrets to verify with, separated by commas; it is read at every request
(the test writes it once it has created the endpoint).

The path says how to answer:
    /ok                 200
    /fail/N             500 to the first N requests at this path, then 200
    /fail-on/EVENT/N    500 to the first N requests of that event type, 200 to others
    /fail-always        500
Each printed line holds the path, the headers, the body, the answer, and for each secret whether
the library accepted the request with it.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

PORT = int(sys.argv[1])
SECRETS_FILE = sys.argv[2]
COUNTS = {}
LOCK = threading.Lock()


def answer(path, event_type):
    parts = path.strip("/").split("/")
    with LOCK:
        if parts[0] == "fail" and len(parts) == 2:
            COUNTS[path] = COUNTS.get(path, 0) + 1
            return 500 if COUNTS[path] <= int(parts[1]) else 200
        if parts[0] == "fail-on" and len(parts) == 3:
            if event_type != parts[1]:
                return 200
            key = (path, event_type)
            COUNTS[key] = COUNTS.get(key, 0) + 1
            return 500 if COUNTS[key] <= int(parts[2]) else 200
    if parts[0] == "fail-always":
        return 500
    return 200


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified = []
        try:
            with open(SECRETS_FILE, encoding="utf-8") as f:
                secrets = [s for s in f.read().strip().split(",") if s]
        except OSError:
            secrets = []
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
                verified.append(True)
            except Exception:  # noqa: BLE001 - any failure is "not verified"
                verified.append(False)
        try:
            event_type = json.loads(body).get("type")
        except ValueError:
            event_type = None
        status = answer(self.path, event_type)
        line = {
            "path": self.path,
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "type": event_type,
            "body": body,
            "verified": verified,
            "status": status,
        }
        with LOCK:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
