#!/usr/bin/env python3
"""The booking adapters through real libcurl against strict local booking systems.

  test_booking.py --driver PATH/booking_driver TEST [--work DIR]

TEST is one of the names in TESTS (rs.* RepairShopr, rd.* RepairDesk, generic.*). Each starts its
own server (repairshopr_server.py, repairdesk_server.py or ../agent/case_receiver.py) on a free
port of 127.0.0.1, writes signed reports (Ed25519, python3-cryptography) and delivers them with
booking_driver, the adapters exactly as benchd's outbox calls them. Exit 0 pass, 1 fail, 77 skip.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
A = None
TOKEN = "rs-k3y-0123456789"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    print("test: " + msg, flush=True)


def wait_for(what, fn, timeout=20.0, step=0.02):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# ---------------------------------------------------------------------------------------------
# Signed reports

_key = None


def make_report(work, ticket, revision=1, supersedes=None, case_id=None, outcome="fail", n=0, faults=None):
    global _key
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    if _key is None:
        _key = Ed25519PrivateKey.generate()
    x = _key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = b64u(hashlib.sha256(('{"crv":"Ed25519","kty":"OKP","x":"%s"}' % b64u(x)).encode()).digest())
    rid = str(uuid.uuid4())
    if faults is None:
        faults = [{"code": "BAT-001", "severity": "major", "part": "battery",
                   "title": "Battery worn: maximum capacity below 80%", "evidence": {"health_pct": 71},
                   "tree": "battery", "node": "capacity"},
                  {"code": "PAN-010", "severity": "major", "part": "charge-port assembly",
                   "title": "Thermal watchdog panic: missing sensor mic1", "evidence": {},
                   "tree": "panics", "node": "thermalmonitord"}]
    report = {
        "schema": "benchd.report/1", "report_id": rid,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bench": {"id": "bench-test", "key_id": kid, "software": "benchd 0.1.0"},
        "device": {"udid": "00008030-%016X" % (0x1A35E21A0580 + n), "serial": "F2LTEST%05d" % n,
                   "product_type": "iPhone12,1", "model_name": "iPhone 11", "ios_version": "17.1",
                   "mode": "normal"},
        "readings": {"battery": {"health_pct": 71, "cycle_count": 612}},
        "faults": faults, "trace": [], "trees": [], "outcome": outcome, "questions": [],
        "snapshot_sha256": "1" * 64,
        "case": {"case_id": case_id or str(uuid.uuid4()), "ticket": ticket, "revision": revision,
                 "supersedes": supersedes},
    }
    protected = b64u(b'{"alg":"EdDSA","kid":"%s","typ":"benchd-report+json"}' % kid.encode())
    payload = b64u(json.dumps(report, separators=(",", ":")).encode())
    sig = b64u(_key.sign((protected + "." + payload).encode()))
    path = os.path.join(work, "reports", rid + ".jws.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write('{"protected":"%s","payload":"%s","signature":"%s"}' % (protected, payload, sig))
    return path, report


# ---------------------------------------------------------------------------------------------
# Servers and the driver

STARTED = []


class Server:
    def __init__(self, work, system, tickets, token=TOKEN, extra=()):
        self.dir = os.path.join(work, system + "-" + str(len(STARTED)))
        os.makedirs(self.dir)
        tfile = os.path.join(self.dir, "tickets.json")
        with open(tfile, "w") as f:
            json.dump(tickets, f)
        script = {"repairshopr": "repairshopr_server.py", "repairdesk": "repairdesk_server.py"}[system]
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--dir", self.dir, "--token", token,
                                   "--tickets", tfile] + list(extra), stdout=self.log, stderr=subprocess.STDOUT)
        STARTED.append(self)
        port = os.path.join(self.dir, "port")
        wait_for(system + " test server", lambda: os.path.exists(port) or self.p.poll() is not None, 15)
        check(self.p.poll() is None, "the test server exited: " + open(os.path.join(self.dir, "server.log")).read())
        with open(port) as f:
            self.port = int(f.read())
        self.base = "http://127.0.0.1:%d" % self.port
        self.url = self.base + ("/api/v1" if system == "repairshopr" else "/api/web/v1")

    def admin(self, path, doc=None):
        data = json.dumps(doc).encode() if doc is not None else None
        req = urllib.request.Request(self.base + "/__test__/" + path, data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def state(self):
        return self.admin("state")

    def raw(self, method, path, doc=None, headers=None):
        """A request as any client would make it, for checking the server's own strictness."""
        data = json.dumps(doc).encode() if doc is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def token_file(work, text=TOKEN, name="token"):
    p = os.path.join(work, name)
    with open(p, "w") as f:
        f.write(" %s \n" % text)
    os.chmod(p, 0o600)
    return p


def driver_argv(kind, url, tok, *args):
    argv = [A.driver, "--kind", kind, "--url", url, "--timeout", "10"]
    if tok:
        argv += ["--token-file", tok]
    return argv + list(args)


def drive(kind, url, tok, *args, expect_rc=None):
    r = subprocess.run(driver_argv(kind, url, tok, *args), capture_output=True, text=True, timeout=170)
    check("AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr,
          "sanitizer report from booking_driver:\n" + r.stderr)
    if expect_rc is not None:
        check(r.returncode == expect_rc, "booking_driver %s exited %d, want %d: %s %s" %
              (" ".join(args[:2]), r.returncode, expect_rc, r.stdout, r.stderr))
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()], r


def deliver(kind, url, tok, files, *opts):
    out, r = drive(kind, url, tok, *opts, "deliver", *files, expect_rc=0)
    check(len(out) >= len(files), "booking_driver printed %d results for %d files: %s" % (len(out), len(files), r.stderr))
    return out


def api_requests(srv):
    return [q for q in srv.state()["requests"]]


def rs_ticket(tid, number, status="In Progress", serial=None, field="IMEI or S/N", subject=None):
    return {"id": tid, "number": number, "subject": subject or "iPhone 11 does not charge", "problem_type": "Repair",
            "status": status, "customer_id": 1000 + tid, "customer": {"id": 1000 + tid, "firstname": "Ada"},
            "properties": {field: serial} if serial is not None else {}, "comments": [], "attachments": []}


def rd_ticket(tid, order, devices=None):
    return {"summary": {"id": tid, "order_id": order, "created_date": 1780000000 + tid,
                        "customer": {"first_name": "Ada", "last_name": "L", "email": "a@example.com",
                                     "mobile": "123"}, "total": "0.00"},
            "devices": devices if devices is not None else
            [{"device": {"name": "iPhone 11"}, "imei": "", "serial": "", "condition": "",
              "status": {"name": "In Progress"}, "repairProdItems": [], "assigned_to": "", "due_on": ""}],
            "notes": []}


def rd_device(imei="", serial="", status="In Progress", name="iPhone 11"):
    return {"device": {"name": name}, "imei": imei, "serial": serial, "condition": "", "status": {"name": status},
            "repairProdItems": [], "assigned_to": "", "due_on": ""}


def comments_of(srv, tid, system="repairshopr"):
    for t in srv.state()["tickets"]:
        if (t.get("id") if system == "repairshopr" else t["summary"]["id"]) == tid:
            return t.get("comments" if system == "repairshopr" else "notes", [])
    raise Fail("no ticket %d on the server" % tid)


# ---------------------------------------------------------------------------------------------
# RepairShopr


def t_rs_deliver(work):
    """A hidden, do-not-email comment a person can read; one per final revision, never two."""
    tickets = [rs_ticket(100 + i, 4700 + i) for i in range(30)]
    srv = Server(work, "repairshopr", tickets)
    tok = token_file(work)
    case = str(uuid.uuid4())
    r1, rep1 = make_report(work, "4711", case_id=case)
    r2, rep2 = make_report(work, "#4711", revision=2, supersedes=rep1["report_id"], case_id=case)
    out = deliver("repairshopr", srv.url, tok, [r1, r2])
    for o in out:
        check(o["verdict"] == "delivered", "not delivered: %s" % o)
    cms = comments_of(srv, 111)
    check(len(cms) == 2, "ticket 4711 has %d comments, want 2 (one per revision)" % len(cms))
    check(out[0]["remote_id"] == str(cms[0]["id"]) and out[1]["remote_id"] == str(cms[1]["id"]),
          "remote ids %s are not the comment ids" % [o["remote_id"] for o in out])
    check(out[0]["phase"] == "comment %d on ticket 4711" % cms[0]["id"], "phase %r" % out[0]["phase"])
    c = cms[0]
    check(c["hidden"] is True and c["do_not_email"] is True, "comment not hidden/do-not-email: %s" % c)
    check(c["tech"] == "benchd bench-test", "tech %r" % c["tech"])
    body = c["body"]
    log("the comment a shop reads in ticket 4711:\n" + body)
    for want in ("Bench diagnosis: FAIL (2 faults)", "iPhone 11, serial F2LTEST00000, iOS 17.1",
                 "1. BAT-001 (major): Battery worn: maximum capacity below 80%\n     part: battery",
                 "2. PAN-010 (major): Thermal watchdog panic: missing sensor mic1\n     part: charge-port assembly",
                 "Battery: health 71 %, 612 charge cycles", "benchd report " + rep1["report_id"],
                 "Case %s, revision 1" % case, "benchctl report verify " + rep1["report_id"],
                 "benchctl key export > bench.jwk", "--key bench.jwk"):
        check(want in body, "the comment lacks %r" % want)
    check(c["subject"] == "Bench diagnosis: FAIL (2 faults)", "subject %r" % c["subject"])
    check("replaces the earlier diagnosis " + rep1["report_id"] in cms[1]["body"], "revision 2 does not say what it replaces")
    reqs = api_requests(srv)
    for q in reqs:
        check(q["headers"].get("Authorization") == "Bearer " + TOKEN, "request without the bearer token: %s" % q["path"])
        check("api_key" not in q["query"], "the token went into a URL")
    seq = [(q["method"], q["path"], q["query"]) for q in reqs]
    check(seq == [("GET", "/api/v1/tickets", "number=4711&page=1"), ("GET", "/api/v1/tickets/111", ""),
                  ("POST", "/api/v1/tickets/111/comment", ""), ("GET", "/api/v1/tickets/111", ""),
                  ("POST", "/api/v1/tickets/111/comment", "")],
          "requests (the number is looked up once, then cached):\n%s" % "\n".join(map(str, seq)))
    # The same reports again (a retry after a lost answer, a restart): read, found, nothing posted.
    out = deliver("repairshopr", srv.url, tok, [r1, r2])
    for o, c in zip(out, cms):
        check(o["verdict"] == "delivered" and "already on ticket 4711 as comment %d" % c["id"] in o["answer"],
              "a repeated delivery: %s" % o)
        check(o["remote_id"] == str(c["id"]), "repeated delivery remote id %s" % o["remote_id"])
    check(len(comments_of(srv, 111)) == 2, "a repeated delivery made another comment")
    check(all(q["method"] == "GET" for q in api_requests(srv)[len(reqs):]), "a repeated delivery posted")
    # The server is as strict as the real one: no idempotency, unknown fields refused.
    hdr = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    for _ in range(2):
        s, _ = srv.raw("POST", "/tickets/100/comment", {"subject": "x", "body": "same"}, hdr)
        check(s == 200, "a plain comment was refused: %d" % s)
    check(len(comments_of(srv, 100)) == 2, "the test server is lenient: a repeated POST did not make a second comment")
    s, doc = srv.raw("POST", "/tickets/100/comment", {"subject": "x", "body": "y", "private": True}, hdr)
    check(s == 422 and doc["success"] is False and "unknown attribute 'private'" in doc["message"][0], "%d %s" % (s, doc))
    s, doc = srv.raw("POST", "/tickets/100/comment", {"subject": "x", "body": "y", "hidden": "yes"}, hdr)
    check(s == 422 and "hidden must be a boolean" in doc["message"], "%d %s" % (s, doc))


def kill_while_answering(work, system, tid, url_kind):
    """SIGKILL the client while the server stores the comment but has not answered, then again."""
    tickets = ([rs_ticket(tid, 4800)] if system == "repairshopr" else [rd_ticket(tid, "T-4800")])
    srv = Server(work, system, tickets, extra=["--comment-delay-ms", "3000"])
    tok = token_file(work)
    r1, rep1 = make_report(work, "4800" if system == "repairshopr" else "T-4800")
    p = subprocess.Popen(driver_argv(url_kind, srv.url, tok, "deliver", r1), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_for("the comment POST in flight",
                 lambda: any(q["method"] == "POST" and q["status"] is None for q in srv.state()["requests"]), 30)
        p.kill()
    finally:
        p.wait()
    check(p.returncode == -signal.SIGKILL, "the driver was not killed mid-request (rc %s)" % p.returncode)
    check(len(comments_of(srv, tid, system)) == 1, "the server had not stored the comment when the client died")
    srv.admin("config", {"comment_delay_ms": 0})
    for rnd in range(2):  # the restart, and one more for good measure
        out = deliver(url_kind, srv.url, tok, [r1])
        check(out[0]["verdict"] == "delivered" and "already on ticket" in out[0]["answer"],
              "after the kill: %s" % out[0])
    cms = comments_of(srv, tid, system)
    check(len(cms) == 1, "%d comments after a kill and two restarts, want exactly 1" % len(cms))
    check(out[0]["remote_id"] == str(cms[0]["id"]), "the remote id is not the surviving comment's")
    posts = [q for q in srv.state()["requests"] if q["method"] == "POST"]
    check(len(posts) == 1, "%d POSTs, want 1" % len(posts))


def t_rs_crash(work):
    kill_while_answering(work, "repairshopr", 300, "repairshopr")


def t_rs_errors(work):
    """No ticket waits; a missing ticket, a refused token, a read-only token, a 422 are held with
    their reason; 5xx and 503 are retried (503 for the whole outbox)."""
    srv = Server(work, "repairshopr", [rs_ticket(200, 5000), rs_ticket(201, 5001)], extra=["--readonly-token", "ro-k3y-0000"])
    tok = token_file(work)
    none, _ = make_report(work, None)
    missing, _ = make_report(work, "9999")
    ok, rep = make_report(work, "5000")
    out = deliver("repairshopr", srv.url, tok, [none, missing])
    check(out[0]["verdict"] == "waiting" and out[0]["answer"].startswith("waiting: no ticket"), "no ticket: %s" % out[0])
    check(out[1]["verdict"] == "held" and "no ticket 9999 in RepairShopr" in out[1]["answer"], "missing: %s" % out[1])
    check(len(api_requests(srv)) == 1, "a ticketless case made a request")
    bad = token_file(work, "wrong-token", "bad-token")
    out = deliver("repairshopr", srv.url, bad, [ok])
    check(out[0]["verdict"] == "held" and out[0]["http_status"] == 401 and
          "token refused by RepairShopr: check token_file" in out[0]["answer"], "refused token: %s" % out[0])
    ro = token_file(work, "ro-k3y-0000", "ro-token")
    out = deliver("repairshopr", srv.url, ro, [ok])
    check(out[0]["verdict"] == "held" and out[0]["http_status"] == 403 and
          "token refused by RepairShopr: check token_file" in out[0]["answer"], "read-only token: %s" % out[0])
    srv.admin("inject", {"method": "POST", "path": "/comment$", "status": 422,
                         "body": {"success": False, "message": ["Ticket is locked for editing"]}})
    out = deliver("repairshopr", srv.url, tok, [ok])
    check(out[0]["verdict"] == "held" and out[0]["http_status"] == 422 and
          "Ticket is locked for editing" in out[0]["answer"], "422: %s" % out[0])
    srv.admin("inject", {"method": "GET", "path": "/tickets/200$", "status": 500, "body": {"error": "boom"}})
    srv.admin("inject", {"method": "GET", "path": "/tickets/200$", "status": 503, "body": {"error": "down"},
                         "headers": {"Retry-After": "7"}})
    out = deliver("repairshopr", srv.url, tok, [ok, ok])
    check(out[0]["verdict"] == "retry" and not out[0]["server_wide"] and out[0]["http_status"] == 500, "500: %s" % out[0])
    check(out[1]["verdict"] == "retry" and out[1]["server_wide"] and out[1]["retry_after"] == 7, "503: %s" % out[1])
    out = deliver("repairshopr", srv.url, tok, [ok])
    check(out[0]["verdict"] == "delivered", "after the errors: %s" % out[0])
    check(len(comments_of(srv, 200)) == 1, "comments on 5000: %d" % len(comments_of(srv, 200)))
    # No answer at all: retried, the whole outbox pauses.
    srv.stop()
    out = deliver("repairshopr", srv.url, tok, [ok])
    check(out[0]["verdict"] == "retry" and out[0]["server_wide"] and out[0]["http_status"] == 0 and
          "no answer from RepairShopr" in out[0]["answer"], "server down: %s" % out[0])


def t_rs_poll(work):
    """Open tickets become bookings, every page read; resolved tickets never; a closing ticket
    drops its booking."""
    tickets, want = [], {}
    for i in range(60):
        tid, num = 1000 + i, 6000 + i
        if i % 4 == 0:
            serial = "35654123456%04d" % i  # an IMEI
        elif i % 4 == 1:
            serial = "f2l x%07d" % i  # a serial, typed loosely
        elif i % 4 == 2:
            serial = "see notes"  # neither
        else:
            serial = None  # field not set
        tickets.append(rs_ticket(tid, num, serial=serial))
        if serial and serial != "see notes":
            want[serial.replace(" ", "").upper()] = (str(num), str(tid))
    for i in range(5):
        tickets.append(rs_ticket(2000 + i, 7000 + i, status="Resolved", serial="35654199999%04d" % i))
    srv = Server(work, "repairshopr", tickets)
    tok = token_file(work)
    out, _ = drive("repairshopr", srv.url, tok, "poll", expect_rc=0)
    rows = out[0]["rows"]
    got = {r["value"]: (r["ticket"], r["external_id"]) for r in rows}
    check(got == want, "poll rows differ:\n got %s\nwant %s" % (sorted(got), sorted(want)))
    for r in rows:
        check(r["kind"] == ("imei" if r["value"].isdigit() else "serial"), "kind of %s" % r)
        check(r["note"].startswith("RepairShopr ticket %s: " % r["ticket"]), "note %r" % r["note"])
    pages = [q["query"] for q in api_requests(srv)]
    check(pages == ["status=Not%%20Closed&page=%d" % p for p in (1, 2, 3)], "pages read: %s" % pages)
    # Ticket 6000 is resolved: its booking goes.
    t = tickets[0]
    t["status"] = "Resolved"
    srv.admin("tickets", [t])
    out, _ = drive("repairshopr", srv.url, tok, "poll", expect_rc=0)
    vals = {r["value"] for r in out[0]["rows"]}
    check("356541234560000" not in vals and len(vals) == len(want) - 1, "a resolved ticket kept its booking")
    # Another field name.
    srv2 = Server(work, "repairshopr", [rs_ticket(1, 1, serial="F2LXK0AAN72J", field="Serial Number")])
    out, _ = drive("repairshopr", srv2.url, tok, "--serial-field", "Serial Number", "poll", expect_rc=0)
    check([r["value"] for r in out[0]["rows"]] == ["F2LXK0AAN72J"], "serial_field not used: %s" % out)


def t_rs_check(work):
    tickets = [rs_ticket(i, i) for i in range(1, 38)] + [rs_ticket(100 + i, 100 + i, status="Resolved") for i in range(3)]
    srv = Server(work, "repairshopr", tickets)
    tok = token_file(work)
    out, _ = drive("repairshopr", srv.url, tok, "check", expect_rc=0)
    check(out[0]["message"] == "RepairShopr at %s: token accepted, 37 open tickets" % srv.url, "check: %s" % out[0])
    check(len(api_requests(srv)) == 1, "check made more than one request")
    out, _ = drive("repairshopr", srv.url, token_file(work, "nope", "bad"), "check", expect_rc=1)
    check(out[0]["message"] == "RepairShopr at %s: token refused (HTTP 401): check token_file" % srv.url, "%s" % out[0])
    out, _ = drive("repairshopr", srv.base, tok, "check", expect_rc=1)
    check("HTTP 404" in out[0]["message"], "wrong base url: %s" % out[0])
    srv.stop()
    out, _ = drive("repairshopr", srv.url, tok, "check", expect_rc=1)
    check("no answer" in out[0]["message"], "server down: %s" % out[0])


def t_rs_limit(work):
    """Past the server's limit (here 5 per 3 s): 429 + Retry-After retried server-wide, and no
    request at all reaches the server before the Retry-After has passed."""
    srv = Server(work, "repairshopr", [rs_ticket(10 + i, 10 + i) for i in range(3)],
                 extra=["--rate-per-minute", "5", "--window-seconds", "3"])
    tok = token_file(work)
    files = [make_report(work, str(10 + i))[0] for i in range(3)]
    # 10: lookup, ticket, post; 11: lookup, ticket (5th), post -> 429; then 11 again and 12.
    out = deliver("repairshopr", srv.url, tok, files[:2] + files[1:])
    check(out[0]["verdict"] == "delivered", "first: %s" % out[0])
    check(out[1]["verdict"] == "retry" and out[1]["http_status"] == 429 and out[1]["server_wide"] and
          out[1]["retry_after"] >= 1, "over the limit: %s" % out[1])
    check(out[2]["verdict"] == "delivered" and out[3]["verdict"] == "delivered", "after the 429: %s" % out[2:])
    reqs = sorted(api_requests(srv), key=lambda q: q["time"])
    i = next(k for k, q in enumerate(reqs) if q["status"] == 429)
    gap = reqs[i + 1]["time"] - reqs[i]["time"]
    check(gap >= out[1]["retry_after"] - 0.05, "a request %.2f s after a 429 with Retry-After %d" % (gap, out[1]["retry_after"]))
    check(srv.state()["refused_429"] == 1, "%d requests refused, want 1" % srv.state()["refused_429"])
    for tid in (10, 11, 12):
        check(len(comments_of(srv, tid)) == 1, "ticket %d: %d comments" % (tid, len(comments_of(srv, tid))))


def max_in_window(times, window=60.0):
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


# ---------------------------------------------------------------------------------------------
# RepairDesk


def rd_tickets(n=60):
    return [rd_ticket(12300 + i, "T-%d" % (12300 + i)) for i in range(n)]


def t_rd_deliver(work):
    """T-12353 -> its id by paging the list (cached, refreshed on a miss); a diagnostic note;
    one per report, never two."""
    srv = Server(work, "repairdesk", rd_tickets())
    tok = token_file(work)
    r1, rep1 = make_report(work, "T-12300")  # the oldest: on the last page
    r2, _ = make_report(work, "12353")  # bare digits, cached by the first lookup
    out = deliver("repairdesk", srv.url, tok, [r1, r2])
    check(all(o["verdict"] == "delivered" for o in out), "not delivered: %s" % out)
    notes = comments_of(srv, 12300, "repairdesk")
    check(len(notes) == 1 and notes[0]["type"] == 1 and notes[0]["is_flag"] == 0, "notes %s" % notes)
    check("benchd report " + rep1["report_id"] in notes[0]["note"] and "part: battery" in notes[0]["note"],
          "the note text:\n" + notes[0]["note"])
    check(out[0]["remote_id"] == str(notes[0]["id"]), "remote id %s" % out[0]["remote_id"])
    check(out[0]["phase"] == "note %d on ticket T-12300" % notes[0]["id"], "phase %r" % out[0]["phase"])
    check(len(comments_of(srv, 12353, "repairdesk")) == 1, "T-12353 has no note")
    reqs = api_requests(srv)
    seq = [(q["method"], q["path"], q["query"].split("&api_key=")[0].split("api_key=")[0]) for q in reqs]
    check(seq == [("GET", "/api/web/v1/tickets", "page=1"), ("GET", "/api/web/v1/tickets", "page=2"),
                  ("GET", "/api/web/v1/tickets", "page=3"), ("GET", "/api/web/v1/tickets/12300", ""),
                  ("POST", "/api/web/v1/ticket/addnote", ""), ("GET", "/api/web/v1/tickets/12353", ""),
                  ("POST", "/api/web/v1/ticket/addnote", "")], "requests:\n%s" % "\n".join(map(str, seq)))
    for q in reqs:
        check(("api_key=" + TOKEN) in q["query"], "a request without the api_key: %s" % q["path"])
    body = json.loads(reqs[4]["body"])
    check(set(body) == {"id", "note", "type", "is_flag"} and body["id"] == 12300 and body["type"] == 1,
          "addnote body %s" % {k: v for k, v in body.items() if k != "note"})
    # The same report again: read, found, nothing posted.
    out = deliver("repairdesk", srv.url, tok, [r1])
    check(out[0]["verdict"] == "delivered" and "already on ticket T-12300 as note" in out[0]["answer"], "%s" % out[0])
    check(len(comments_of(srv, 12300, "repairdesk")) == 1, "a repeated delivery made another note")
    # A ticket newer than the cache: a miss refreshes the list. One process: T-12300 pages the
    # whole list; while its note is being answered, T-20000 is opened; its delivery misses the
    # cache and reads the list again from page 1.
    r4, _ = make_report(work, "T-12300", revision=2)
    r5, _ = make_report(work, "T-20000")
    srv.admin("config", {"comment_delay_ms": 1500})
    before = len(api_requests(srv))
    p = subprocess.Popen(driver_argv("repairdesk", srv.url, tok, "deliver", r4, r5), stdout=subprocess.PIPE, text=True)
    try:
        wait_for("the note POST in flight",
                 lambda: any(q["method"] == "POST" and q["status"] is None for q in srv.state()["requests"]), 30)
        srv.admin("tickets", [rd_ticket(20000, "T-20000")])
        stdout, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = [json.loads(l) for l in stdout.splitlines()]
    check(p.returncode == 0 and [o["verdict"] for o in out] == ["delivered", "delivered"], "%s" % out)
    lists = [q["query"].split("&")[0] for q in api_requests(srv)[before:] if q["path"] == "/api/web/v1/tickets"]
    check(lists == ["page=1", "page=2", "page=3", "page=1"], "list pages read: %s" % lists)
    check(len(comments_of(srv, 20000, "repairdesk")) == 1, "T-20000 has no note")
    srv.admin("config", {"comment_delay_ms": 0})
    # The server's own strictness: no idempotency, wrong types refused.
    path = "/ticket/addnote?api_key=" + TOKEN
    hdr = {"Content-Type": "application/json"}
    for _ in range(2):
        s, _ = srv.raw("POST", path, {"id": 12301, "note": "same", "type": 0}, hdr)
        check(s == 200, "a plain note refused: %d" % s)
    check(len(comments_of(srv, 12301, "repairdesk")) == 2, "the test server is lenient: no second note")
    s, doc = srv.raw("POST", path, {"id": "12301", "note": "x", "type": 1}, hdr)
    check(s == 422 and doc["success"] is False, "a string id accepted: %d %s" % (s, doc))
    s, doc = srv.raw("POST", path, {"id": 12301, "note": "x", "type": 1, "flag": 1}, hdr)
    check(s == 422 and "unknown field" in doc["message"], "an unknown field accepted: %d %s" % (s, doc))
    s, doc = srv.raw("GET", "/tickets", None, {"Authorization": "Bearer " + TOKEN})
    check(s == 401 and doc["message"] == "Invalid API Key", "a Bearer header alone was accepted: %d" % s)


def t_rd_crash(work):
    kill_while_answering(work, "repairdesk", 400, "repairdesk")


def t_rd_errors(work):
    srv = Server(work, "repairdesk", rd_tickets(30), extra=["--readonly-token", "ro-k3y-0000"])
    tok = token_file(work)
    none, _ = make_report(work, None)
    missing, _ = make_report(work, "T-9999")
    ok, _ = make_report(work, "T-12305")
    out = deliver("repairdesk", srv.url, tok, [none, missing])
    check(out[0]["verdict"] == "waiting" and out[0]["answer"].startswith("waiting: no ticket"), "%s" % out[0])
    check(out[1]["verdict"] == "held" and "no ticket T-9999 in RepairDesk" in out[1]["answer"], "%s" % out[1])
    check([q["query"].split("&")[0] for q in api_requests(srv)] == ["page=1", "page=2"],
          "a miss did not read the list to its end")
    out = deliver("repairdesk", srv.url, token_file(work, "wrong-key", "bad"), [ok])
    check(out[0]["verdict"] == "held" and out[0]["http_status"] == 401 and
          "token refused by RepairDesk: check token_file" in out[0]["answer"] and "Invalid API Key" in out[0]["answer"],
          "%s" % out[0])
    check("wrong-key" not in out[0]["answer"], "the key leaked into the answer")
    out = deliver("repairdesk", srv.url, token_file(work, "ro-k3y-0000", "ro"), [ok])
    check(out[0]["verdict"] == "held" and out[0]["http_status"] == 403, "%s" % out[0])
    srv.admin("inject", {"method": "POST", "path": "/addnote$", "status": 422,
                         "body": {"success": False, "message": "note is too long", "data": []}})
    srv.admin("inject", {"method": "POST", "path": "/addnote$", "status": 200,
                         "body": {"success": False, "message": "Ticket is archived", "data": []}})
    out = deliver("repairdesk", srv.url, tok, [ok, ok])
    check(out[0]["verdict"] == "held" and out[0]["http_status"] == 422 and "note is too long" in out[0]["answer"], "%s" % out[0])
    check(out[1]["verdict"] == "held" and "Ticket is archived" in out[1]["answer"], "success false: %s" % out[1])
    out = deliver("repairdesk", srv.url, tok, [ok])
    check(out[0]["verdict"] == "delivered", "%s" % out[0])
    check(len(comments_of(srv, 12305, "repairdesk")) == 1, "notes on T-12305")


def t_rd_poll(work):
    tickets = [rd_ticket(1, "T-1", [rd_device("356541234567890", "F2LXK0AAN72J")]),
               rd_ticket(2, "T-2", [rd_device("", "DNPXX1234567", "Closed")]),
               rd_ticket(3, "T-3", [rd_device("", "C39ZZ7654321", "Cancelled"), rd_device("", "FFMQQ0000001")]),
               rd_ticket(4, "T-4", [rd_device("", "n/a")])]
    tickets += [rd_ticket(100 + i, "T-%d" % (100 + i), [rd_device("", "G0N%09d" % i)]) for i in range(50)]
    srv = Server(work, "repairdesk", tickets)
    tok = token_file(work)
    out, _ = drive("repairdesk", srv.url, tok, "poll", expect_rc=0)
    got = {r["value"]: r["ticket"] for r in out[0]["rows"]}
    want = {"356541234567890": "T-1", "F2LXK0AAN72J": "T-1", "FFMQQ0000001": "T-3"}
    want.update({"G0N%09d" % i: "T-%d" % (100 + i) for i in range(50)})
    check(got == want, "poll rows:\n got %s\nwant %s" % (sorted(got.items()), sorted(want.items())))
    check(len(api_requests(srv)) == 3, "pages read: %d, want 3" % len(api_requests(srv)))


def t_rd_check(work):
    srv = Server(work, "repairdesk", rd_tickets(60))
    tok = token_file(work)
    out, _ = drive("repairdesk", srv.url, tok, "check", expect_rc=0)
    check(out[0]["message"] == "RepairDesk at %s: api key accepted, 60 tickets" % srv.url, "%s" % out[0])
    out, _ = drive("repairdesk", srv.url, token_file(work, "nope", "bad"), "check", expect_rc=1)
    check("api key refused (HTTP 401): check token_file" in out[0]["message"], "%s" % out[0])


# ---------------------------------------------------------------------------------------------
# generic


def t_generic_deliver(work):
    """DESIGN 4.7 behind the interface: the stored body under the Idempotency-Key, the receiver's
    case id kept; the check reads GET /cases with the token."""
    d = os.path.join(work, "receiver")
    os.makedirs(d)
    logf = open(os.path.join(work, "receiver.log"), "wb")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "agent", "case_receiver.py"), "serve", "--dir", d,
                          "--token", TOKEN, "--plan", "201"], stdout=logf, stderr=subprocess.STDOUT)
    try:
        wait_for("the case receiver", lambda: os.path.exists(os.path.join(d, "port")), 10)
        url = "http://127.0.0.1:%s" % open(os.path.join(d, "port")).read()
        tok = token_file(work)
        r1, rep = make_report(work, None)
        out = deliver("generic", url, tok, [r1, r1])
        want = "C-" + rep["report_id"][:8]
        check(out[0]["verdict"] == "delivered" and out[0]["http_status"] == 201 and out[0]["remote_id"] == want,
              "generic: %s" % out[0])
        check(out[1]["verdict"] == "delivered" and out[1]["http_status"] == 409 and out[1]["remote_id"] == want,
              "generic again: %s" % out[1])
        reqs = sorted(os.listdir(os.path.join(d, "requests")))
        r = json.load(open(os.path.join(d, "requests", reqs[0])))
        check(r["key"] == rep["report_id"] and r["headers"]["Authorization"] == "Bearer " + TOKEN, "request %s" % r["headers"])
        check(json.loads(r["body"])["case"]["ticket"] is None, "case body")
        out, _ = drive("generic", url, tok, "check", expect_rc=0)
        check(out[0]["message"] == "the case receiver at %s: token accepted (GET /cases: HTTP 200)" % url, "%s" % out[0])
        out, _ = drive("generic", url, token_file(work, "nope", "bad"), "check", expect_rc=1)
        check("token refused (HTTP 401)" in out[0]["message"], "%s" % out[0])
        out, _ = drive("generic", url, tok, "poll", expect_rc=1)
        check("no tickets to poll" in out[0]["error"], "%s" % out[0])
    finally:
        p.terminate()
        p.wait()
        logf.close()


TESTS = {
    "rs.deliver": t_rs_deliver, "rs.crash": t_rs_crash, "rs.errors": t_rs_errors, "rs.poll": t_rs_poll,
    "rs.check": t_rs_check, "rs.limit": t_rs_limit,
    "rd.deliver": t_rd_deliver, "rd.crash": t_rd_crash, "rd.errors": t_rd_errors, "rd.poll": t_rd_poll,
    "rd.check": t_rd_check, "generic.deliver": t_generic_deliver,
}


def main():
    global A
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--driver", required=True)
    p.add_argument("--work", help="keep the servers' records here")
    p.add_argument("test", choices=sorted(TESTS))
    A = p.parse_args()
    try:
        import cryptography  # noqa: F401
    except ImportError:
        print("skip: python3-cryptography is not installed (scripts/deps --test)")
        return 77
    work = A.work or tempfile.mkdtemp(prefix="booking-test.")
    os.makedirs(work, exist_ok=True)
    rc = 1
    try:
        TESTS[A.test](work)
        log("%s: pass" % A.test)
        rc = 0
    except Fail as e:
        log("%s: FAIL: %s" % (A.test, e))
    finally:
        for s in STARTED:
            s.stop()
        if rc == 0 and not A.work:
            shutil.rmtree(work, ignore_errors=True)
        elif rc:
            log("records kept in " + work)
    return rc


if __name__ == "__main__":
    sys.exit(main())
