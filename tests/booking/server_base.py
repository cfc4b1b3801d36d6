"""What the local booking-system test servers share (repairshopr_server.py, repairdesk_server.py).

A strict stand-in for a booking system's API on 127.0.0.1 (a free port unless --port): every
request is authenticated, rate-limited per minute, recorded, then answered by the system's own
handler. Tests drive it through /__test__/ (never rate-limited, recorded or authenticated, and
never used by benchd):

  GET  /__test__/state      {"tickets": [...with comments/notes...], "requests": [...],
                             "begun": N, "answered": N, "refused_429": N}
  POST /__test__/tickets    [ticket, ...]: add or replace tickets (by id)
  POST /__test__/inject     {"method", "path" (regex on the path), "status", "body", "times",
                             "headers"}: the next matching requests (after auth and the rate
                             limit) get that answer instead
  POST /__test__/config     {"comment_delay_ms": N, "rate_per_minute": N, "retry_after": bool}

The rate limit counts the requests it let through in any window of --window-seconds (60: the
published "per minute"); a refused request does not count, and its 429 carries Retry-After: the
seconds until the window has room.

Every API request is kept as {"n", "time", "method", "path", "query", "headers", "body",
"status"}. A request is "begun" on arrival and "answered" once its answer is written, so a test
can kill the client while the server is still answering.
"""

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1 << 20


class State:
    def __init__(self, a):
        self.lock = threading.Lock()
        self.token = a.token
        self.readonly_token = a.readonly_token
        self.rate = a.rate_per_minute
        self.window_s = a.window_seconds
        self.retry_after = True
        self.comment_delay_ms = a.comment_delay_ms
        self.tickets = {}  # id -> ticket
        self.next_comment = 5000
        self.requests = []
        self.begun = 0
        self.answered = 0
        self.refused_429 = 0
        self.window = []  # arrival times of the requests the limit let through (last 60 s)
        self.inject = []
        if a.tickets:
            with open(a.tickets) as f:
                for t in json.load(f):
                    self.put_ticket(t)

    def put_ticket(self, t):
        self.tickets[int(self.ticket_id(t))] = t

    def ticket_id(self, t):
        raise NotImplementedError

    def admit(self, now):
        """The rate limit: at most `rate` requests in any window (60 s). Returns None or the
        Retry-After in seconds. Refused requests do not count (a client that waits as told gets in)."""
        while self.window and self.window[0] <= now - self.window_s:
            self.window.pop(0)
        if len(self.window) >= self.rate:
            return max(1, math.ceil(self.window[0] + self.window_s - now))
        self.window.append(now)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "booking-test-server/1"

    def log_message(self, fmt, *args):
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def send(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        st = self.server.state
        u = urlsplit(self.path)
        body = self.read_body()
        if u.path.startswith("/__test__/"):
            return self.admin(method, u.path, body)
        now = time.time()
        with st.lock:
            st.begun += 1
            rec = {"n": st.begun, "time": now, "method": method, "path": u.path, "query": u.query,
                   "headers": {k: v for k, v in self.headers.items()},
                   "body": (body or b"").decode("utf-8", "replace"), "status": None}
            st.requests.append(rec)
        if body is None:
            status, obj, hdrs = 413, self.error_body(413, "request body too large"), None
        else:
            status, obj, hdrs = self.answer(st, method, u, body, now)
        rec["status"] = status
        try:
            self.send(status, obj, hdrs)
        finally:
            with st.lock:
                st.answered += 1

    def answer(self, st, method, u, body, now):
        try:
            query = parse_qs(u.query, keep_blank_values=True, strict_parsing=bool(u.query))
        except ValueError:
            return 400, self.error_body(400, "malformed query string"), None
        scope = self.authenticate(st, query)
        if scope is None:
            return 401, self.error_body(401, None), None
        with st.lock:
            wait = st.admit(now)
            if wait is not None:
                st.refused_429 += 1
                return 429, self.error_body(429, None), ({"Retry-After": wait} if st.retry_after else None)
            for inj in st.inject:
                if inj["times"] > 0 and inj.get("method", method) == method and re.search(inj["path"], u.path):
                    inj["times"] -= 1
                    return inj["status"], inj["body"], inj.get("headers")
        if scope == "read" and method != "GET":
            return 403, self.error_body(403, None), None
        return self.route(st, method, u.path, query, body)

    def admin(self, method, path, body):
        st = self.server.state
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            return self.send(400, {"error": "not JSON"})
        with st.lock:
            if path == "/__test__/state" and method == "GET":
                return self.send(200, {"tickets": list(st.tickets.values()), "requests": st.requests,
                                       "begun": st.begun, "answered": st.answered,
                                       "refused_429": st.refused_429})
            if path == "/__test__/tickets" and method == "POST":
                for t in doc:
                    st.put_ticket(t)
                return self.send(200, {"ok": True, "tickets": len(st.tickets)})
            if path == "/__test__/inject" and method == "POST":
                doc.setdefault("times", 1)
                st.inject.append(doc)
                return self.send(200, {"ok": True})
            if path == "/__test__/config" and method == "POST":
                for k in ("comment_delay_ms", "rate_per_minute", "retry_after"):
                    if k in doc:
                        setattr(st, {"rate_per_minute": "rate"}.get(k, k), doc[k])
                return self.send(200, {"ok": True})
        return self.send(404, {"error": "no such test endpoint"})

    # -- what each system defines ----------------------------------------------------------
    def authenticate(self, st, query):
        """'write', 'read' (a key that may only read) or None."""
        raise NotImplementedError

    def error_body(self, status, message):
        raise NotImplementedError

    def route(self, st, method, path, query, body):
        raise NotImplementedError


def one(query, name):
    """A query parameter given once, or None; a repeated one is refused by the caller."""
    v = query.get(name)
    if v is None:
        return None
    if len(v) != 1:
        raise ValueError("%s given %d times" % (name, len(v)))
    return v[0]


def positive_int(s, name):
    if s is None:
        return None
    if not re.fullmatch(r"[1-9][0-9]{0,8}", s):
        raise ValueError("%s must be a positive whole number, not %r" % (name, s))
    return int(s)


def serve(state_cls, handler_cls, description, default_rate):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dir", required=True, help="writes DIR/port once listening")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", required=True, help="the API key that may read and write")
    p.add_argument("--readonly-token", help="a key that may only read (403 on writes)")
    p.add_argument("--tickets", help="JSON file: the tickets to start with")
    p.add_argument("--rate-per-minute", type=int, default=default_rate,
                   help="requests in any 60 s before 429 (default: the published %d)" % default_rate)
    p.add_argument("--window-seconds", type=float, default=60.0,
                   help="the rate limit's window (default 60; tests shorten it to see a 429 quickly)")
    p.add_argument("--comment-delay-ms", type=int, default=0,
                   help="after storing a comment or note, wait this long before answering")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), handler_cls)
    srv.daemon_threads = True
    srv.state = state_cls(a)
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, os.path.join(a.dir, "port"))
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit("server_base.py is a module: run repairshopr_server.py or repairdesk_server.py")
