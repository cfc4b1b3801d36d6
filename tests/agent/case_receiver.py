#!/usr/bin/env python3
"""A local repair-case receiver for the tests and the demo (DESIGN.md 4.7).

Serves POST /cases (and GET /cases, which checks the token and counts the cases: what
`benchctl upload check` reads) on 127.0.0.1 (a free port unless --port), records every request it gets
(headers and the exact body) and answers according to a plan, so tests can make it misbehave:

  case_receiver.py serve --dir DIR [--port N] [--token TOKEN] [--plan PLAN] [--delay-ms N]
                         [--tls-cert PEM --tls-key PEM]
  case_receiver.py summary --dir DIR      what was received, for people (the demo)

DIR/port holds the port once the server listens. DIR/begun/NNNNNN appears when request N arrives,
DIR/requests/NNNNNN.json once it is answered, holding the request:
{"n", "method", "path", "headers", "key", "body", "answer"}; DIR/accepted/<key>.json the first
accepted body per Idempotency-Key (what a booking system keeps). A 2xx or 409 answer names the
case as {"case_id": "C-<first 8 characters of the key>"}.

PLAN: comma-separated answers, one per attempt of the same Idempotency-Key; the last one
repeats; or a JSON object {"<key>": PLAN, "*": PLAN} giving keys plans of their own.
DIR/plan, when it exists, replaces --plan (re-read on every request). Answers:
  200 201 409 400 422 503 ...   that status (2xx stores the case)
  429:S                         429 with Retry-After: S (seconds)
  429date:S                     429 with Retry-After as an HTTP-date S seconds ahead
  503:S                         503 with Retry-After: S
  drop                          close the connection without answering
  sleep:MS:ANSWER               wait MS milliseconds, then ANSWER
  redirect:CODE                 CODE (301, 302, 307, 308) with Location: /moved/cases, where the
                                same case would be taken (2xx): a client that follows redirects
                                delivers it there, one that does not holds it
A request for a key already accepted is answered 409 (the server honours the key), unless the
plan says otherwise for that attempt. A request with a wrong token gets 401, a body that is not
a case gets 400: the receiver checks what a booking system would. DIR/token, when it exists,
replaces --token (re-read on every request: a rotated token).
"""

import argparse
import email.utils
import hashlib
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 16 << 20


class State:
    def __init__(self, d, plan, token, delay_ms):
        self.dir = d
        self.plan = plan
        self.token = token
        self.delay_ms = delay_ms
        self.lock = threading.Lock()
        self.n = 0
        self.attempts = {}  # key -> count
        os.makedirs(os.path.join(d, "requests"), exist_ok=True)
        os.makedirs(os.path.join(d, "accepted"), exist_ok=True)
        os.makedirs(os.path.join(d, "begun"), exist_ok=True)

    def current_token(self):
        try:
            with open(os.path.join(self.dir, "token")) as f:
                return f.read().strip()
        except FileNotFoundError:
            return self.token

    def current_plan(self):
        p = os.path.join(self.dir, "plan")
        try:
            with open(p) as f:
                text = f.read().strip()
                if text:
                    return text
        except FileNotFoundError:
            pass
        return self.plan


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "case-receiver/1"

    def log_message(self, fmt, *args):  # quiet: the records are the log
        pass

    def answer(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        # GET /cases: what `benchctl upload check` reads (the token is checked, nothing else).
        st = self.server.state
        if self.path.rstrip("/") != "/cases":
            self.answer(404, {"error": "POST /cases"})
        elif st.current_token() is not None and self.headers.get("Authorization") != "Bearer " + st.current_token():
            self.answer(401, {"error": "bad or missing bearer token"})
        else:
            self.answer(200, {"cases": len(os.listdir(os.path.join(st.dir, "accepted")))})

    def do_POST(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.answer(413, {"error": "too large"})
            return
        body = self.rfile.read(length)
        key = self.headers.get("Idempotency-Key") or ""
        with st.lock:
            st.n += 1
            n = st.n
            # A request is "begun" before any delay: tests kill the client while one is in flight.
            open(os.path.join(st.dir, "begun", "%06d" % n), "w").close()
            attempt = st.attempts.get(key, 0)
            st.attempts[key] = attempt + 1
            text = st.current_plan()
            if text.startswith("{"):  # {"<key>": PLAN, "*": PLAN}
                plans = json.loads(text)
                text = plans.get(key, plans.get("*", "201"))
            plan = [p.strip() for p in text.split(",") if p.strip()]
        spec = plan[min(attempt, len(plan) - 1)] if plan else "201"
        rec = {
            "n": n,
            "time": time.time(),
            "method": "POST",
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "key": key,
            "attempt": attempt + 1,
            "body": body.decode("utf-8", "replace"),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        if st.delay_ms:
            time.sleep(st.delay_ms / 1000)
        while spec.startswith("sleep:"):
            _, ms, spec = spec.split(":", 2)
            time.sleep(int(ms) / 1000)

        status, obj, extra = self.decide(st, spec, key, body)
        rec["answer"] = status
        write_atomic(os.path.join(st.dir, "requests", "%06d.json" % n), json.dumps(rec).encode())
        if status == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.answer(status, obj, extra)

    def decide(self, st, spec, key, body):
        """What a booking system checks first, then what the plan says."""
        moved = self.path.rstrip("/") == "/moved/cases"
        if self.path.rstrip("/") != "/cases" and not moved:
            return 404, {"error": "no such endpoint: POST /cases"}, None
        token = st.current_token()
        if token is not None and self.headers.get("Authorization") != "Bearer " + token:
            return 401, {"error": "bad or missing bearer token"}, None
        if self.headers.get("Content-Type") != "application/json":
            return 415, {"error": "Content-Type must be application/json"}, None
        if not key:
            return 400, {"error": "Idempotency-Key missing"}, None
        try:
            doc = json.loads(body)
            case, report = doc["case"], doc["report"]
            for k in ("ticket", "bench_id", "device", "outcome", "faults", "case_id", "revision", "supersedes"):
                case[k]
            for k in ("protected", "payload", "signature"):
                report[k]
        except (ValueError, KeyError, TypeError) as e:
            return 400, {"error": "not a repair case: %s" % e}, None
        if spec == "drop":
            return "drop", None, None
        head, _, arg = spec.partition(":")
        extra = None
        if head == "redirect" and not moved:
            return int(arg), {"error": "moved"}, {"Location": "/moved/cases"}
        if moved:
            head, arg = "201", ""  # where a redirect points: the case is taken
        if head == "429date":
            status = 429
            extra = {"Retry-After": email.utils.formatdate(time.time() + int(arg), usegmt=True)}
        else:
            status = int(head)
            if arg:
                extra = {"Retry-After": arg}
        accepted = os.path.join(st.dir, "accepted", key + ".json")
        if 200 <= status < 300:
            if os.path.exists(accepted):
                return 409, {"error": "case already received", "key": key, "case_id": "C-" + key[:8]}, None
            write_atomic(accepted, body)
            return status, {"case_id": "C-" + key[:8], "key": key}, extra
        if status == 409:
            return 409, {"error": "case already received", "key": key, "case_id": "C-" + key[:8]}, extra
        if status == 400:
            return 400, {"error": "ticket T-0 is closed: reopen it in the booking system"}, extra
        return status, {"error": "plan answer %d" % status}, extra


def serve(a):
    st = State(a.dir, a.plan, a.token, a.delay_ms)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    if a.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.state = st
    write_atomic(os.path.join(a.dir, "port"), str(srv.server_address[1]).encode())
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    srv.server_close()


def summary(a):
    reqs = sorted(os.listdir(os.path.join(a.dir, "requests")))
    acc = sorted(os.listdir(os.path.join(a.dir, "accepted")))
    print("case receiver: %d request(s), %d case(s) accepted" % (len(reqs), len(acc)))
    for name in acc:
        with open(os.path.join(a.dir, "accepted", name)) as f:
            c = json.load(f)["case"]
        dev = c.get("device") or {}
        faults = ", ".join("%s (%s)" % (x.get("code"), x.get("part") or "no part") for x in c.get("faults", [])) or "none"
        print("  %s  %-22s %-8s faults: %s" % (name[:-5], dev.get("model_name") or dev.get("product_type") or dev.get("udid"),
                                               c.get("outcome"), faults))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--token")
    s.add_argument("--plan", default="201")
    s.add_argument("--delay-ms", type=int, default=0)
    s.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate chain")
    s.add_argument("--tls-key", help="and this PEM key")
    m = sub.add_parser("summary")
    m.add_argument("--dir", required=True)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    if a.cmd == "serve":
        serve(a)
    else:
        summary(a)


if __name__ == "__main__":
    sys.exit(main())
