#!/usr/bin/env python3
"""HTTP-level tests of the bench page and its API (DESIGN.md 4.10) against the real benchd, the
real emulator and the real command code: every safety rule, the error answers, the reports.

  test_web.py --bin DIR [--work DIR] TEST

  safety    Host allowlist (DNS rebinding), CSRF header and same Origin on every POST/DELETE,
            no CORS, CSP/nosniff/no-referrer, the 64 KiB body cap, JSON content type, methods
  errors    bad JSON, unknown field, unknown device, wrong choice, unknown key: 400/404, one
            line, nothing changed (store and state directory); a good answer and ticket work
  reports   /reports/ID.jws.json is the signed bytes, /reports/ID.html renders (view, lang),
            /api/reports and /api/history, path tricks refused
  events    /api/events: attach, steps, the battery reading before the report, report signed,
            question, Last-Event-ID catch-up; plug-to-event latency
  limits    the connection cap, a client that trickles its request or says nothing is dropped
  token     [web] token_file: bearer, cookie (via /api/login), 401 and the /login redirect
Exit 0 pass, 1 fail.
"""
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webcommon as W  # noqa: E402
from webcommon import check, log  # noqa: E402

HEALTHY = ("00008130-000A1C2E3B4D801E", os.path.join(W.PROFILES, "healthy-15pro"))
WORN = ("00008030-001A35E21A05802E", os.path.join(W.PROFILES, "worn-battery-11"))


def safety_headers(r, what):
    csp = r.header("Content-Security-Policy") or ""
    check("default-src 'self'" in csp, "%s: CSP %r lacks default-src 'self'" % (what, csp))
    check("'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, "%s: CSP allows inline: %r" % (what, csp))
    check(r.header("X-Content-Type-Options") == "nosniff", "%s: no nosniff" % what)
    check(r.header("Referrer-Policy") == "no-referrer", "%s: Referrer-Policy %r" % (what, r.header("Referrer-Policy")))
    no_cors(r, what)


def no_cors(r, what):
    cors = [k for k in r.headers if k.startswith("access-control-")]
    check(not cors, "%s: CORS headers %s" % (what, cors))


def one_line_error(r, status, what, contains=None):
    check(r.status == status, "%s: HTTP %d, want %d: %r" % (what, r.status, status, r))
    check(r.body.endswith(b"\n") and r.body.count(b"\n") == 1, "%s: not one line: %r" % (what, r.body))
    j = r.json()
    check(j.get("ok") is False and isinstance(j.get("error"), str) and j["error"], "%s: %r" % (what, j))
    if contains:
        check(contains in j["error"], "%s: error %r does not say %r" % (what, j["error"], contains))
    return j


def bookings(page):
    return page.api("/api/bookings")["bookings"]


def snapshot_of_store(b):
    """What a refused request must not change: the reports, cases and bookings."""
    return (W.report_files(b), W.store_rows(b, "SELECT COUNT(*) FROM reports"),
            W.store_rows(b, "SELECT COUNT(*) FROM bookings"),
            W.store_rows(b, "SELECT case_id, ticket, answers, final_report_id FROM cases ORDER BY case_id"))


def stable_store(b):
    first = snapshot_of_store(b)
    if first[1][0][0] < 1:
        return False
    time.sleep(1.0)
    return snapshot_of_store(b) == first


# ---------------------------------------------------------------------------------------------


def t_safety(work):
    emu, b, page = W.start(work, [HEALTHY], web="listen = 127.0.0.1:0\nhosts = bench7.local, desk")
    port = page.port
    # The page and everything else carry the policy headers; nothing carries CORS headers.
    for path in ("/", "/assets/bench.js", "/assets/bench.css", "/assets/labels.json", "/api/state",
                 "/api/catalogue", "/api/bookings", "/no-such-page", "/api/no-such"):
        r = page.get(path)
        safety_headers(r, "GET " + path)
    r = page.get("/")
    check(r.status == 200 and r.header("Content-Type").startswith("text/html"), "GET / %r" % r)
    check(b"<script>" not in r.body and b" style=" not in r.body and b"<style" not in r.body,
          "the page has inline script or style")
    check(r.header("Cache-Control") == "no-store", "the page (it holds the CSRF token) may be cached")
    check(page.get("/assets/bench.js").header("Content-Type").startswith("text/javascript"), "JS type")
    # A CORS preflight gets no permission.
    r = page.request("OPTIONS", "/api/bookings", headers={"Origin": "http://evil.test",
                                                           "Access-Control-Request-Method": "POST",
                                                           "Access-Control-Request-Headers": "x-benchd-csrf"})
    check(r.status == 405, "OPTIONS answered %r" % r)
    no_cors(r, "OPTIONS")
    r = page.get("/api/state", headers={"Origin": "http://evil.test"})
    no_cors(r, "GET with a foreign Origin")

    # DNS rebinding: only our own names, at our port.
    for host in ("localhost:%d" % port, "127.0.0.1:%d" % port, "[::1]:%d" % port, "LOCALHOST:%d" % port,
                 "bench7.local:%d" % port, "desk:%d" % port):
        r = page.get("/api/state", host=host)
        check(r.status == 200, "Host %s refused: %r" % (host, r))
    for host in ("evil.test:%d" % port, "evil.test", "127.0.0.1:%d" % (port + 1), "localhost",
                 "127.0.0.1.evil.test:%d" % port, "bench7.local.evil.test:%d" % port, "127.0.0.2:%d" % port,
                 "0.0.0.0:%d" % port, ""):
        r = page.get("/", host=host)
        one_line_error(r, 403, "GET / as Host %r" % host)
        safety_headers(r, "the refusal")
        r = page.get("/api/state", host=host)
        check(r.status == 403, "GET /api/state as Host %r: %r" % (host, r))
    r = W.parse_response(page.raw(b"GET /api/state HTTP/1.0\r\n\r\n"))
    check(r.status in (400, 403), "a request without Host: %r" % r)

    # Writes: the CSRF header, the same Origin, JSON. A refused write changes nothing.
    good = {"serial": "F2LTEST00001", "ticket": "T-9001", "lang": "it"}
    # The phone's own session writes its case and report meanwhile: compare against the store
    # once that is over (signed, stored and unchanged for a second), or the session's own write
    # looks like a refused write's.
    wait_report(b, 1)
    W.wait_for("the session's store writes to settle", lambda: stable_store(b), 30)
    before = snapshot_of_store(b)
    token = page.token()
    refusals = [
        ("no CSRF header", dict(csrf=None), 403),
        ("a wrong CSRF token", dict(csrf="x" * 43), 403),
        ("a CSRF token one character short", dict(csrf=token[:-1]), 403),
        ("no Origin", dict(origin=None), 403),
        ("a foreign Origin", dict(origin="http://evil.test"), 403),
        ("Origin null", dict(origin="null"), 403),
        ("an Origin on another port", dict(origin="http://127.0.0.1:%d" % (port + 1)), 403),
        ("an https Origin", dict(origin="https://" + page.hostport), 403),
        ("a foreign Host with its own Origin", dict(host="evil.test:%d" % port, origin="http://evil.test:%d" % port), 403),
        ("text/plain (a form post)", dict(ctype="text/plain"), 415),
        ("form-urlencoded", dict(ctype="application/x-www-form-urlencoded"), 415),
    ]
    for what, kw, status in refusals:
        r = page.post("/api/bookings", good, **kw)
        one_line_error(r, status, "POST /api/bookings with " + what)
    r = page.request("DELETE", "/api/bookings/1", csrf=None)
    one_line_error(r, 403, "DELETE without CSRF")
    r = page.request("DELETE", "/api/bookings/1", origin="http://evil.test")
    one_line_error(r, 403, "DELETE from a foreign Origin")
    r = page.post("/api/cases/%s/finish" % HEALTHY[0], {}, csrf=None)
    one_line_error(r, 403, "finish without CSRF")
    check(snapshot_of_store(b) == before, "a refused write changed the store")
    check(bookings(page) == [], "a refused write made a booking")

    # Bodies: 64 KiB at most.
    big = json.dumps(dict(good, note="x" * (64 * 1024))).encode()
    r = page.post("/api/bookings", big)
    one_line_error(r, 413, "a 64 KiB+ body")
    chunked = (("POST /api/bookings HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nX-Benchd-CSRF: %s\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
               % (page.hostport, page.origin, token)).encode()
    for _ in range(70):
        chunked += b"400\r\n" + b" " * 1024 + b"\r\n"
    chunked += b"0\r\n\r\n"
    r = W.parse_response(page.raw(chunked))
    one_line_error(r, 413, "a chunked body past 64 KiB")
    exact = json.dumps(good).encode()
    exact = exact + b" " * (64 * 1024 - len(exact))
    check(len(exact) == 64 * 1024, "test body size")
    check(snapshot_of_store(b) == before, "an oversized body changed the store")
    r = page.post("/api/bookings", exact)
    check(r.status == 200, "a body of exactly 64 KiB: %r" % r)

    # The right request goes through to the command, once.
    bk = bookings(page)
    check(len(bk) == 1 and bk[0]["ticket"] == "T-9001" and bk[0]["lang"] == "it", "bookings %s" % bk)
    r = page.post("/api/bookings", good)
    check(r.status in (400, 409), "the same serial booked twice: %r" % r)
    one_line_error(r, r.status, "the second booking")
    check(len(bookings(page)) == 1, "a refused booking was stored")
    r = page.request("DELETE", "/api/bookings/%d" % bk[0]["id"])
    check(r.status == 200, "DELETE the booking: %r" % r)
    check(bookings(page) == [], "the booking is still there")
    r = page.request("DELETE", "/api/bookings/%d" % bk[0]["id"])
    one_line_error(r, 404, "DELETE it again")
    one_line_error(page.request("DELETE", "/api/bookings/abc"), 400, "DELETE /api/bookings/abc")

    # Methods and paths.
    one_line_error(page.request("PUT", "/api/bookings", {"x": 1}), 405, "PUT")
    one_line_error(page.post("/api/state", {}), 405, "POST /api/state")
    one_line_error(page.get("/api/cases/%s/ticket" % HEALTHY[0]), 405, "GET a POST-only path")
    for path in ("/assets/../../../../etc/passwd", "/assets/%2e%2e/%2e%2e/etc/passwd", "/assets/index.html",
                 "/assets/", "/assets/bench.exe", "/../etc/passwd"):
        r = page.get(path)
        check(r.status == 404 and b"root:" not in r.body, "GET %s: %r" % (path, r))
    b.stop()
    emu.stop()


def wait_report(b, n=1, timeout=60):
    return W.wait_for("%d signed report(s)" % n, lambda: len(W.report_files(b)) >= n and W.report_files(b),
                      timeout)


def t_errors(work):
    q = W.question_profile(work)
    emu, b, page = W.start(work, [q, HEALTHY])
    wait_report(b, 2)
    W.wait_for("the question's case", lambda: W.store_rows(b, "SELECT COUNT(*) FROM cases")[0][0] >= 2, 20)
    W.wait_for("the sessions' store writes to settle", lambda: stable_store(b), 30)
    before = snapshot_of_store(b)
    base = "/api/cases/%s" % q[0]
    # Not JSON, not an object, unknown fields, wrong types: 400, one line.
    for body, what in ((b"{", "truncated JSON"), (b"not json", "not JSON"), (b"[1,2]", "an array"),
                       (b'"x"', "a string"), (b"", "no body"), (b'{"ticket":"T-1","ticket":"T-2"}', "a duplicate key"),
                       (b'{"ticket": 7}', "a number for the ticket"), (b'{"ticket":"T-1","cmd":"finish"}', "an extra field")):
        one_line_error(page.post(base + "/ticket", body), 400, "ticket with " + what)
    for body, what in ((b'{"answers": "yes"}', "answers as a string"), (b"{}", "no answers"),
                       (b'{"answers":{"tg0b_new_battery":"maybe"}}', "a choice that is not offered"),
                       (b'{"answers":{"no_such_question":"yes"}}', "an unknown key")):
        j = one_line_error(page.post(base + "/answers", body), 400, "answers with " + what)
        if "maybe" in what:
            check("yes" in j["error"] and "no" in j["error"], "the refusal does not list the choices: %r" % j)
    # Unknown device: 404 for every case action and the history.
    for action, body in (("ticket", {"ticket": "T-1"}), ("answers", {"answers": {"tg0b_new_battery": "yes"}}),
                         ("finish", {})):
        one_line_error(page.post("/api/cases/NOSUCHDEVICE0/%s" % action, body), 404, "%s for an unknown device" % action)
    one_line_error(page.get("/api/history/NOSUCHDEVICE0"), 404, "history of an unknown device")
    one_line_error(page.post(base + "/shout", {}), 404, "an unknown action")
    one_line_error(page.post("/api/cases/bad%20id/finish", {}), 400, "a device id with a space")
    check(snapshot_of_store(b) == before, "a refused request changed the store or the state directory")

    # The same requests done right give signed revisions (the command's answer, 200).
    r = page.post(base + "/answers", {"answers": {"tg0b_new_battery": "yes"}})
    check(r.status == 200, "a good answer: %r" % r)
    a = r.json()
    check(a["revision"] == 2 and a["report_id"], "answer: %s" % a)
    r = page.post(base + "/ticket", {"ticket": "T-4711"})
    check(r.status == 200 and r.json()["revision"] == 3, "a good ticket: %r" % r)
    latest = W.payload(os.path.join(b.state, "reports", r.json()["report_id"] + ".jws.json"))
    check(latest["case"]["ticket"] == "T-4711" and latest["case"]["revision"] == 3, "revision 3: %s" % latest["case"])
    b.stop()
    emu.stop()


def t_reports(work):
    emu, b, page = W.start(work, [WORN])
    files = wait_report(b, 1)
    rid = files[0][:-len(".jws.json")]
    with open(os.path.join(b.state, "reports", files[0]), "rb") as f:
        signed = f.read()
    r = page.get("/reports/%s.jws.json" % rid)
    check(r.status == 200 and r.body == signed, "the signed bytes differ: %r" % r)
    safety_headers(r, "the JWS")
    r = page.get("/api/reports/%s" % rid)
    check(r.status == 200 and r.json()["verified"] is True and r.json()["report"]["report_id"] == rid,
          "GET /api/reports/ID: %r" % r)
    for view in ("customer", "technician"):
        for lang in ("en", "zh"):
            r = page.get("/reports/%s.html?view=%s&lang=%s" % (rid, view, lang))
            check(r.status == 200 and r.header("Content-Type").startswith("text/html"), "%s %s: %r" % (view, lang, r))
            csp = r.header("Content-Security-Policy")
            check(csp.startswith("default-src 'none'") and "script-src" not in csp, "report CSP %r" % csp)
            check(r.header("X-Content-Type-Options") == "nosniff", "report nosniff")
            check(b"<script" not in r.body, "the report has a script")
            check(("电池" if lang == "zh" else "attery").encode() in r.body, "the %s report is not in %s" % (view, lang))
    one_line_error(page.get("/reports/%s.html?lang=xx" % rid), 400, "an unknown language")
    one_line_error(page.get("/reports/%s.html?view=everything" % rid), 400, "an unknown view")
    one_line_error(page.get("/reports/00000000-0000-4000-8000-000000000000.html"), 404, "an unknown report")
    one_line_error(page.get("/reports/00000000-0000-4000-8000-000000000000.jws.json"), 404, "an unknown JWS")
    for path in ("/reports/..%2F..%2Fbenchd.db.jws.json", "/reports/../bench-key.pem", "/reports/%s.snapshot.json" % rid,
                 "/reports/%s" % rid):
        r = page.get(path)
        check(r.status == 404 and b"PRIVATE" not in r.body, "GET %s: %r" % (path, r))
    j = page.api("/api/reports?device=%s" % WORN[0])
    check([x["report_id"] for x in j["reports"]] == [rid], "report list: %s" % j)
    one_line_error(page.get("/api/reports?limit=abc"), 400, "limit=abc")
    h = page.api("/api/history/%s" % WORN[0])
    check(len(h["reports"]) == 1 and h["reports"][0]["health_pct"] == 77, "history: %s" % h)
    b.stop()
    emu.stop()


class Stream:
    """An /api/events reader on its own thread: (arrival time, event) pairs."""

    def __init__(self, page, last_id=None):
        self.events = []
        self.ids = []
        self.s = socket.create_connection(("127.0.0.1", page.port), timeout=60)
        hdr = "GET /api/events HTTP/1.1\r\nHost: %s\r\n" % page.hostport
        if last_id is not None:
            hdr += "Last-Event-ID: %d\r\n" % last_id
        self.s.sendall((hdr + "\r\n").encode())
        self.head = b""
        while b"\r\n\r\n" not in self.head:
            self.head += self.s.recv(4096)
        self.head, _, self.rest = self.head.partition(b"\r\n\r\n")
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        buf = self.rest
        text = b""
        try:
            while True:
                # chunked framing: size line, data, CRLF
                while b"\r\n" not in buf:
                    d = self.s.recv(65536)
                    if not d:
                        return
                    buf += d
                size, _, buf = buf.partition(b"\r\n")
                n = int(size.split(b";")[0], 16)
                if n == 0:
                    return
                while len(buf) < n + 2:
                    d = self.s.recv(65536)
                    if not d:
                        return
                    buf += d
                text += buf[:n]
                buf = buf[n + 2:]
                while b"\n\n" in text:
                    block, _, text = text.partition(b"\n\n")
                    data, eid = None, None
                    for line in block.decode().split("\n"):
                        if line.startswith("data: "):
                            data = line[6:]
                        elif line.startswith("id: "):
                            eid = int(line[4:])
                    if data is not None:
                        with self.lock:
                            self.events.append((time.time(), json.loads(data)))
                            self.ids.append(eid)
        except OSError:
            return

    def find(self, pred):
        with self.lock:
            for t, e in self.events:
                if pred(e):
                    return t, e
        return None

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()


def t_events(work):
    emu, b, page = W.start(work, [])
    st = Stream(page)
    check(b"200 OK" in st.head and b"text/event-stream" in st.head, "stream head %r" % st.head)
    check(b"access-control" not in st.head.lower(), "CORS on the stream")
    udid, d = W.clone(work, "worn-battery-11", "00008030-00EE0000AA11002E")
    t0 = time.time()
    check(emu.cmd("attach " + d).startswith("ok"), "emulator attach")
    att = W.wait_for("device.attached on the stream",
                     lambda: st.find(lambda e: e["type"] == "device.attached" and e["device"] == udid), 10)
    signed = W.wait_for("report.signed on the stream",
                        lambda: st.find(lambda e: e["type"] == "report.signed" and e["device"] == udid), 60)
    bat = st.find(lambda e: e["type"] == "session.reading" and e["device"] == udid and e["name"] == "battery")
    check(bat is not None and bat[1]["value"]["health_pct"] == 77, "no battery reading: %s" % st.events)
    check(bat[0] <= signed[0], "the battery reading came after the report")
    crashes = st.find(lambda e: e["type"] == "session.reading" and e["name"] == "crashes")
    check(crashes is not None and "panics" in crashes[1]["value"], "no crash count before the report")
    steps = [e for _, e in st.events if e["type"] == "session.step" and e["device"] == udid]
    check(steps, "no session.step event")
    check(st.ids == sorted(st.ids) and len(set(st.ids)) == len(st.ids), "ids not increasing: %s" % st.ids)
    check(all(e["seq"] == i for (_, e), i in zip(st.events, st.ids)), "id: is not the event's seq")
    log("plug to device.attached on the stream: %.0f ms; to the battery reading %.0f ms; to report.signed %.0f ms"
        % ((att[0] - t0) * 1000, (bat[0] - t0) * 1000, (signed[0] - t0) * 1000))
    check(att[0] - t0 < 1.0, "device.attached took %.2f s" % (att[0] - t0))
    # A reconnect with Last-Event-ID gets what it missed (the bus keeps the recent ones).
    first = st.ids[0]
    st.close()
    st2 = Stream(page, last_id=first)
    W.wait_for("the catch-up", lambda: len(st2.events) >= len(st.ids) - 1, 10)
    check(st2.ids[:len(st.ids) - 1] == st.ids[1:], "catch-up ids %s, want %s" % (st2.ids[:10], st.ids[1:10]))
    # The state says which seq it is at least as new as.
    s = page.api("/api/state")
    check(s["seq"] >= st.ids[-1], "state seq %s older than the stream's %s" % (s["seq"], st.ids[-1]))
    # Detach: the stream says so.
    check(emu.cmd("detach " + udid).startswith("ok"), "emulator detach")
    W.wait_for("device.detached", lambda: st2.find(lambda e: e["type"] == "device.detached" and e["device"] == udid), 10)
    # benchd stopping ends the stream at once (no hang on a blocked stream thread).
    t1 = time.time()
    b.stop()
    st2.t.join(5)
    check(not st2.t.is_alive(), "the stream did not end when benchd stopped")
    log("benchd stopped in %.2f s with a stream open" % (time.time() - t1))
    emu.stop()


def t_limits(work):
    emu, b, page = W.start(work, None)
    cap = 32  # WEB_MAX_CONNECTIONS
    pid = b.proc.p.pid

    def threads():
        with open("/proc/%d/status" % pid) as f:
            return int(re.search(r"Threads:\s+(\d+)", f.read()).group(1))

    base = threads()
    # The cap: with 32 connections open, the next one is not served (it waits in the listen
    # backlog) and benchd runs no more threads; as soon as slots free up, it is served.
    held = [socket.create_connection(("127.0.0.1", page.port), timeout=5) for _ in range(cap)]
    time.sleep(0.5)
    extra = socket.create_connection(("127.0.0.1", page.port), timeout=10)
    extra.sendall(b"GET /api/state HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % page.hostport.encode())
    extra.settimeout(2.0)
    try:
        got = extra.recv(100)
    except socket.timeout:
        got = None
    check(got is None, "connection %d was answered while %d were open: %r" % (cap + 1, cap, got))
    n = threads()
    check(n <= base + cap, "%d threads with %d connections (%d before)" % (n, cap + 1, base))
    log("%d connections held: %d threads (%d before), connection %d waits" % (cap, n, base, cap + 1))
    for s in held:
        s.close()
    t0 = time.time()
    extra.settimeout(5.0)
    got = extra.recv(100)
    extra.close()
    check(got.startswith(b"HTTP/1.1 200"), "connection %d after the others closed: %r" % (cap + 1, got))
    log("served %.2f s after the slots freed" % (time.time() - t0))
    check(time.time() - t0 < 2.0, "the waiting connection was served only after %.1f s" % (time.time() - t0))

    # Slow clients, all at once (each is dropped within the 10 s window): one that trickles its
    # request a byte a second, one that connects and says nothing, one whose body never comes.
    out = {}

    def trickle():
        s = socket.create_connection(("127.0.0.1", page.port), timeout=30)
        req = b"GET /api/state HTTP/1.1\r\nHost: " + page.hostport.encode() + b"\r\nX-Pad: " + b"a" * 60
        t0 = time.time()
        for i in range(len(req)):
            try:
                s.sendall(req[i:i + 1])
                s.settimeout(1.0)
                if s.recv(100) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        else:
            t0 = None
        out["trickle"] = time.time() - t0 if t0 else None
        s.close()

    def silent():
        s = socket.create_connection(("127.0.0.1", page.port), timeout=20)
        t0 = time.time()
        got = s.recv(100)
        out["silent"] = (got, time.time() - t0)
        s.close()

    def slow_body():
        s = socket.create_connection(("127.0.0.1", page.port), timeout=20)
        s.sendall(("POST /api/bookings HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nX-Benchd-CSRF: %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{" %
                   (page.hostport, page.origin, csrf)).encode())
        t0 = time.time()
        got = s.recv(100)
        out["body"] = (got, time.time() - t0)
        s.close()

    csrf = page.token()
    ts = [threading.Thread(target=f) for f in (trickle, silent, slow_body)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(40)
    check(out.get("trickle") is not None, "a trickling client was never dropped")
    log("a client sending one byte a second was dropped after %.1f s" % out["trickle"])
    check(8 <= out["trickle"] <= 14, "dropped after %.1f s, want about 10" % out["trickle"])
    got, secs = out["silent"]
    check(got == b"" and secs < 14, "a silent client: %r after %.1f s" % (got, secs))
    log("a silent client was dropped after %.1f s" % secs)
    got, secs = out["body"]
    check(got == b"" and secs < 14, "a body that never comes: %r after %.1f s" % (got, secs))
    log("a request whose body never came was dropped after %.1f s, unanswered" % secs)
    check(page.get("/api/state").status == 200, "the page stopped answering")
    b.stop()


def t_token(work):
    tok = os.path.join(work, "web-token")
    with open(tok, "w") as f:
        f.write("  s3cret-page-token\n")
    os.chmod(tok, 0o600)
    emu, b, page = W.start(work, None, web="listen = 127.0.0.1:0\ntoken_file = %s" % tok)
    one_line_error(page.get("/api/state"), 401, "the API without the token")
    one_line_error(page.get("/api/state", headers={"Authorization": "Bearer wrong"}), 401, "a wrong bearer")
    one_line_error(page.get("/api/state", headers={"Cookie": "benchd_token=wrong"}), 401, "a wrong cookie")
    check(page.get("/api/state", headers={"Authorization": "Bearer s3cret-page-token"}).status == 200, "bearer")
    check(page.get("/api/events", headers={"Authorization": "Bearer x"}).status == 401, "the stream without the token")
    r = page.get("/")
    check(r.status == 303 and r.header("Location") == "/login", "GET / without the token: %r" % r)
    r = page.get("/login")
    check(r.status == 200 and b"token" in r.body, "the login page: %r" % r)
    m = re.search(rb'name="benchd-csrf" content="([^"]+)"', r.body)
    csrf = m.group(1).decode()
    r = page.post("/api/login", {"token": "wrong"}, csrf=csrf)
    one_line_error(r, 401, "login with a wrong token")
    check(r.header("Set-Cookie") is None, "a cookie for a wrong token")
    r = page.post("/api/login", {"token": "s3cret-page-token"}, csrf=None)
    one_line_error(r, 403, "login without CSRF")
    r = page.post("/api/login", {"token": "s3cret-page-token"}, csrf=csrf)
    check(r.status == 200, "login: %r" % r)
    cookie = r.header("Set-Cookie")
    check(cookie.startswith("benchd_token=s3cret-page-token;") and "HttpOnly" in cookie and "SameSite=Strict" in cookie,
          "cookie %r" % cookie)
    c = cookie.split(";")[0]
    r = page.get("/", headers={"Cookie": "other=1; " + c})
    check(r.status == 200 and b"benchd-csrf" in r.body, "the page with the cookie: %r" % r)
    check(page.get("/api/state", headers={"Cookie": c}).status == 200, "the API with the cookie")
    # Writes still need CSRF and Origin with the token.
    r = page.post("/api/bookings", {"serial": "F2LTOKEN0001", "ticket": "T-1"}, csrf=None, headers={"Cookie": c})
    one_line_error(r, 403, "a write with the cookie but no CSRF")
    # The token file is read per request: rotating it needs no restart.
    with open(tok, "w") as f:
        f.write("rotated\n")
    one_line_error(page.get("/api/state", headers={"Cookie": c}), 401, "the old token after rotation")
    check(page.get("/api/state", headers={"Authorization": "Bearer rotated"}).status == 200, "the rotated token")
    b.stop()


def syscall_set(group, cache={}):
    """Every system call a systemd group (@system-service, ...) names, groups expanded."""
    import subprocess
    if group in cache:
        return cache[group]
    out = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        if not line.startswith("    ") or line.strip().startswith("#"):
            continue
        n = line.strip()
        names |= syscall_set(n) if n.startswith("@") else {n}
    cache[group] = names
    return names


def t_hardening(work):
    """benchd serves the page inside the unit's system-call filter and address families: every
    system call benchd makes while the page is used is one the unit allows (strace)."""
    import shutil
    import subprocess
    if not shutil.which("strace") or not shutil.which("systemd-analyze"):
        print("SKIP: strace or systemd-analyze is missing (scripts/deps --test installs them)")
        return 77
    with open(os.path.join(W.HERE, "..", "..", "udev", "benchd.service.in")) as f:
        unit = f.read()
    allowed = set()
    for line in unit.splitlines():
        m = re.match(r"SystemCallFilter=(~?)(.*)", line)
        if not m:
            continue
        names = set()
        for item in m.group(2).split():
            names |= syscall_set(item) if item.startswith("@") else {item}
        allowed = allowed - names if m.group(1) else allowed | names
    families = set(re.search(r"RestrictAddressFamilies=(.*)", unit).group(1).split())
    check("IPAddressDeny" not in unit and "PrivateNetwork=yes" not in unit, "the unit cuts benchd off the network")
    check({"AF_INET", "AF_INET6"} <= families, "the unit's address families %s leave out TCP" % families)
    emu, b, page = W.start(work, [HEALTHY])
    wait_report(b, 1)
    trace = os.path.join(work, "strace.txt")
    st = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, "-p", str(b.proc.p.pid)], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    # Use everything: the page, its files, state, catalogue, a report, an event stream, writes.
    ev = Stream(page)
    for path in ("/", "/assets/bench.js", "/assets/labels.json", "/api/state", "/api/catalogue", "/api/bookings",
                 "/api/history/%s" % HEALTHY[0]):
        check(page.get(path).status == 200, "GET " + path)
    rid = W.report_files(b)[0][:-len(".jws.json")]
    check(page.get("/reports/%s.html?view=customer&lang=fr" % rid).status == 200, "the report page")
    check(page.post("/api/bookings", {"serial": "F2LHARDEN001", "ticket": "T-1"}).status == 200, "a booking")
    page.get("/", host="evil.test")
    W.wait_for("the booking event", lambda: ev.find(lambda e: e["type"] == "booking.changed"), 10)
    ev.close()
    time.sleep(0.5)
    st.terminate()
    st.wait(10)
    used, bad_fam = set(), set()
    with open(trace) as f:
        for line in f:
            m = re.match(r"\d+\s+(?:<\.\.\. ([a-z0-9_]+) resumed>|([a-z0-9_]+)\()", line)
            if m:
                used.add(m.group(1) or m.group(2))
            fm = re.search(r"socket\((AF_[A-Z0-9]+)", line)
            if fm and fm.group(1) not in families:
                bad_fam.add(fm.group(1))
    check(len(used) > 10, "strace saw almost nothing: %s" % sorted(used))
    denied = sorted(used - allowed)
    log("system calls while serving the page: %d, all allowed by the unit: %s" % (len(used), not denied))
    check(not denied, "the unit's SystemCallFilter would refuse: %s" % denied)
    check(not bad_fam, "address families outside RestrictAddressFamilies: %s" % bad_fam)
    b.stop()
    emu.stop()


TESTS = {"hardening": t_hardening, "safety": t_safety, "errors": t_errors, "reports": t_reports, "events": t_events, "limits": t_limits,
         "token": t_token}

if __name__ == "__main__":
    sys.exit(W.run_main(TESTS))
