#!/usr/bin/env python3
"""Integration tests of benchd: the real daemon, the real benchctl, a real HTTP receiver.

  test_benchd.py --bin DIR TEST      TEST: upload, crash, control, check-config, disk, readonly,
                                     devices, hotplug

Signed reports for the upload tests are made here with Ed25519 (python3-cryptography) in the
report format of DESIGN.md 4.6 and placed in <state>/reports, which benchd adopts at start; the
device tests (devices, hotplug) use idevice-emu and the real capture/pipeline instead.
Exit 0 pass, 1 fail, 77 skipped (with the reason).
"""

import argparse
import atexit
import base64
import calendar
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
A = None  # parsed arguments


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    print("test: " + msg, flush=True)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def wait_for(what, fn, timeout=20.0, step=0.05):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


# ---------------------------------------------------------------------------------------------
# Signed reports (what pipeline_run writes), for the outbox tests.

def bench_key(state_dir):
    """The bench's own key (benchd adopts only reports it verifies): the one in the state
    directory, or a new one written there as benchd would (PKCS#8 PEM, 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    keyfile = os.path.join(state_dir, "bench-key.pem")
    if os.path.exists(keyfile):
        with open(keyfile, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    k = Ed25519PrivateKey.generate()
    os.makedirs(state_dir, exist_ok=True)
    with open(keyfile, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    os.chmod(keyfile, 0o600)
    return k


def make_report(state_dir, ticket=None, outcome="fail", n=0):
    from cryptography.hazmat.primitives import serialization
    k = bench_key(state_dir)
    x = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % b64u(x)
    kid = b64u(hashlib.sha256(jwk.encode()).digest())
    rid = str(uuid.uuid4())
    udid = "00008030-%016X" % (0x1A35E21A0580 + n)
    report = {
        "schema": "benchd.report/1",
        "report_id": rid,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bench": {"id": "bench-test", "key_id": kid, "software": "benchd 0.1.0"},
        "device": {"udid": udid, "serial": "F2LTEST%05d" % n, "product_type": "iPhone12,1",
                   "model_name": "iPhone 11", "ios_version": "17.1", "mode": "normal"},
        "readings": {"battery": {"health_pct": 71, "cycle_count": 612}},
        "faults": [{"code": "BAT-001", "severity": "major", "part": "battery", "title": "Battery worn",
                    "evidence": "health 71 %", "tree": "battery", "node": "health"}],
        "trace": [{"tree": "battery", "node": "health", "result": "fault"}],
        "trees": [{"name": "battery", "version": "1", "sha256": "0" * 64}],
        "outcome": outcome,
        "snapshot_sha256": "1" * 64,
        "case": {"ticket": ticket},
    }
    protected = b64u(json.dumps({"alg": "EdDSA", "kid": kid, "typ": "benchd-report+json"},
                                separators=(",", ":")).encode())
    payload = b64u(json.dumps(report, separators=(",", ":")).encode())
    sig = b64u(k.sign((protected + "." + payload).encode()))
    jws = '{"protected":"%s","payload":"%s","signature":"%s"}' % (protected, payload, sig)
    d = os.path.join(state_dir, "reports")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, rid + ".jws.json"), "w") as f:
        f.write(jws)
    return rid, jws, report


# ---------------------------------------------------------------------------------------------
# Processes

# Every process a test starts (each the leader of its own process group), killed with its whole
# group when the test ends however it ends: a failed check, an unexpected exception, SIGTERM or
# SIGINT (ctest's timeout, Ctrl-C), or sys.exit. Every harness that imports this module gets the
# same guarantee (kill_started runs at exit); t_harness checks it.
STARTED = []


def kill_started():
    for proc in STARTED:
        proc.kill()


def _exit_on_signal(sig, frame):
    raise SystemExit(128 + sig)


atexit.register(kill_started)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    if signal.getsignal(_sig) in (signal.SIG_DFL, signal.default_int_handler):
        signal.signal(_sig, _exit_on_signal)


class Proc:
    def __init__(self, argv, logpath, env=None):
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
        STARTED.append(self)

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        """SIGKILL to the process and everything in its process group (a benchd's reader
        processes, the program umockdev-run or faketime started), then reap it."""
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if not self.log.closed:
            self.log.close()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.alive():
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail("%s did not stop within %d s" % (self.logpath, timeout))
        self.log.close()
        return rc

    def text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Receiver:
    def __init__(self, work, plan="201", token=None, delay_ms=0, tls=None):
        self.dir = os.path.join(work, "receiver")
        os.makedirs(self.dir, exist_ok=True)
        argv = [sys.executable, os.path.join(HERE, "case_receiver.py"), "serve", "--dir", self.dir,
                "--plan", plan, "--delay-ms", str(delay_ms)]
        if token:
            argv += ["--token", token]
        if tls:
            argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.proc = Proc(argv, os.path.join(work, "receiver.log"))
        portfile = os.path.join(self.dir, "port")
        wait_for("the case receiver to listen", lambda: os.path.exists(portfile), 10)
        with open(portfile) as f:
            self.port = int(f.read())
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)

    def set_plan(self, plan):
        p = os.path.join(self.dir, "plan")
        with open(p + ".tmp", "w") as f:
            f.write(plan if isinstance(plan, str) else json.dumps(plan))
        os.rename(p + ".tmp", p)

    def requests(self):
        d = os.path.join(self.dir, "requests")
        out = []
        for name in sorted(os.listdir(d)):
            if name.endswith(".json"):
                with open(os.path.join(d, name)) as f:
                    out.append(json.load(f))
        return out

    def begun(self):
        return len(os.listdir(os.path.join(self.dir, "begun")))

    def accepted(self):
        return {n[:-5] for n in os.listdir(os.path.join(self.dir, "accepted")) if n.endswith(".json")}

    def stop(self):
        self.proc.stop(signal.SIGTERM)


class Bench:
    """A benchd with its own state directory and configuration."""

    def __init__(self, work, name="bench", upload_url="", token_file="", extra="", socket_path="",
                 state_root=None, web=""):
        self.work = work
        self.state = os.path.join(state_root or work, name + "-state")
        os.makedirs(self.state, exist_ok=True)
        self.conf = os.path.join(work, name + ".conf")
        self.name = name
        with open(self.conf, "w") as f:
            # [web]: off unless a test asks for the page (web = the section's lines), so parallel
            # benchds never compete for the default port.
            f.write("[bench]\nid = bench-test\nsyslog_seconds = 0\ndrain_seconds = 20\n%s\n"
                    "[upload]\nurl = %s\ntoken_file = %s\ntimeout_seconds = 5\n"
                    "retry_min_seconds = 1\nretry_max_seconds = 4\n"
                    "[web]\n%s\n"
                    "[control]\nsocket = %s\n" % (extra, upload_url, token_file, web or "listen =", socket_path))
        self.sock = socket_path or os.path.join(self.state, "control.sock")
        self.proc = None
        self.runs = 0

    def env(self):
        e = dict(os.environ)
        e["BENCHD_STATE_DIR"] = self.state
        return e

    def start(self, wait=True, prefix=(), env=None):
        self.runs += 1
        e = self.env()
        e.update(env or {})
        self.proc = Proc(list(prefix) + [os.path.join(A.bin, "benchd"), "--config", self.conf, "--state-dir",
                                         self.state],
                         os.path.join(self.work, "%s.%d.log" % (self.name, self.runs)), env=e)
        if wait:
            wait_for("benchd to answer on its control socket",
                     lambda: self.ctl("status")[0] == 0 or not self.proc.alive(), 30)
            check(self.proc.alive(), "benchd exited at start:\n" + self.proc.text())
        return self.proc

    def ctl(self, *args, json_out=False):
        argv = [os.path.join(A.bin, "benchctl"), "--state-dir", self.state, "--socket", self.sock]
        argv = argv[:1] + list(args[:1]) + argv[1:] + list(args[1:])
        if json_out:
            argv.append("--json")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        out = r.stdout
        if json_out and r.returncode == 0:
            out = json.loads(r.stdout)
        return r.returncode, out, r.stderr

    def outbox(self):
        rc, out, err = self.ctl("outbox", "--limit", "1000", json_out=True)
        check(rc == 0, "benchctl outbox failed (%d): %s" % (rc, err))
        return out

    def stop(self, sig=signal.SIGTERM):
        rc = self.proc.stop(sig)
        text = self.proc.text()
        check("runtime error" not in text and "AddressSanitizer" not in text and "LeakSanitizer" not in text,
              "sanitizer report in benchd's log:\n" + text)
        return rc


def write_token(work, text=" s3cr3t-token \n"):
    p = os.path.join(work, "token")
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o600)
    return p


# ---------------------------------------------------------------------------------------------
# Tests


def t_upload(work):
    """2xx, 409, 503 then 200, 429 with Retry-After (seconds and HTTP-date), dropped connections,
    400 held with the server's answer shown by benchctl outbox, then fixed and retried; a 307
    redirect held, never followed (README: redirects are not followed); every request under its
    report's id as Idempotency-Key, the same on every try (checked as requests come, not by a
    timeout)."""
    rx = Receiver(work, token="s3cr3t-token")
    b = Bench(work, upload_url=rx.url + "/", token_file=write_token(work))
    cases = {}
    plans = {"*": "201"}
    for n, (name, plan) in enumerate([("ok", "201"), ("ok200", "200"), ("conflict", "409"),
                                      ("unavailable", "503,200"), ("throttled", "429:1,201"),
                                      ("throttled-date", "429date:2,201"), ("dropped", "drop,drop,201"),
                                      ("crashing", "500,201"), ("bad", "400"), ("unprocessable", "422"),
                                      ("redirected", "redirect:307")]):
        rid, jws, rep = make_report(b.state, ticket="T-%d" % n if n % 2 == 0 else None, n=n)
        cases[name] = (rid, jws, rep)
        plans[rid] = plan
    rx.set_plan(plans)
    t0 = time.time()
    b.start()

    ids = {c[0] for c in cases.values()}

    def keys_are_report_ids():
        # A key that is no report's id (one that changes per try, say) fails here at once.
        for r in rx.requests():
            check(r["key"] in ids, "a request under Idempotency-Key %r, which is no report's id: the key "
                  "must be the report_id, the same on every try (request %d, attempt %d)" %
                  (r["key"], r["n"], r["attempt"]))

    def settled():
        keys_are_report_ids()
        ob = b.outbox()
        c = ob["counts"]
        return c["pending"] == 0 and c["delivered"] == len(cases) - 3 and c["held"] == 3 and ob

    ob = wait_for("every upload to settle", settled, 40)
    log("settled in %.1f s" % (time.time() - t0))
    items = {i["report_id"]: i for i in ob["items"]}
    reqs = rx.requests()
    by_key = {}
    for r in reqs:
        by_key.setdefault(r["key"], []).append(r)
    want_attempts = {"ok": 1, "ok200": 1, "conflict": 1, "unavailable": 2, "throttled": 2, "throttled-date": 2,
                     "dropped": 3, "crashing": 2, "bad": 1, "unprocessable": 1, "redirected": 1}
    # Redirects are not followed: nothing reached the address the 307 named.
    moved = [r for r in reqs if r["path"] != "/cases"]
    check(not moved, "benchd followed a redirect: %d request(s) to %s" % (len(moved), sorted({r["path"] for r in moved})))
    red = items[cases["redirected"][0]]
    check(red["state"] == "held" and red["last_status"] == 307 and "redirects to" in red["last_answer"]
          and "/moved/cases" in red["last_answer"], "a 307 is held with where it points: %s" % red)
    for name, (rid, jws, rep) in cases.items():
        rs = by_key.get(rid, [])
        check(len(rs) == want_attempts[name], "%s: %d requests, want %d" % (name, len(rs), want_attempts[name]))
        check(items[rid]["attempts"] == want_attempts[name], "%s: outbox counts %s attempts" %
              (name, items[rid]["attempts"]))
        for r in rs:
            h = {k.lower(): v for k, v in r["headers"].items()}
            check(r["path"] == "/cases", "%s: path %s" % (name, r["path"]))
            check(h.get("authorization") == "Bearer s3cr3t-token", "%s: Authorization %r" % (name, h.get("authorization")))
            check(h.get("content-type") == "application/json", "%s: Content-Type" % name)
            check(h.get("idempotency-key") == rid, "%s: Idempotency-Key %r" % (name, h.get("idempotency-key")))
            check(r["body"] == rs[0]["body"], "%s: a retry sent a different body" % name)
        body = json.loads(rs[0]["body"])
        check(set(body) == {"case", "report"}, "%s: body keys %s" % (name, sorted(body)))
        c = body["case"]
        check(c["ticket"] == rep["case"]["ticket"], "%s: ticket %r" % (name, c["ticket"]))
        check(c["bench_id"] == "bench-test" and c["outcome"] == rep["outcome"], "%s: case %s" % (name, c))
        check(c["device"] == {k: rep["device"][k] for k in ("udid", "serial", "product_type", "model_name")},
              "%s: case device %s" % (name, c["device"]))
        check(c["faults"] == [{"code": "BAT-001", "severity": "major", "part": "battery"}], "%s: faults" % name)
        # A report made outside benchd's cases (benchctl run) carries no case fields.
        check(c["case_id"] is None and c["revision"] is None and c["supersedes"] is None,
              "%s: case fields of a report without a case: %s" % (name, c))
        # The report travels as the exact signed bytes.
        check('"report":' + jws + "}" in rs[0]["body"], "%s: the JWS is not embedded byte for byte" % name)
        state = "held" if name in ("bad", "unprocessable", "redirected") else "delivered"
        check(items[rid]["state"] == state, "%s: state %s, want %s" % (name, items[rid]["state"], state))
        # The receiver's case id is kept (issue 18.7): "C-<key>" from its 201 or 409 answer.
        if state == "delivered":
            check(items[rid]["remote_id"] == "C-" + rid[:8], "%s: remote_id %r" % (name, items[rid]["remote_id"]))
    # Backoff and Retry-After were honoured.
    gap = lambda name: by_key[cases[name][0]][1]["time"] - by_key[cases[name][0]][0]["time"]
    check(gap("throttled") >= 0.9, "Retry-After: 1 not honoured (retried after %.2f s)" % gap("throttled"))
    check(gap("throttled-date") >= 1.0, "Retry-After date not honoured (%.2f s)" % gap("throttled-date"))
    check(gap("unavailable") >= 0.45, "503 retried after %.2f s: no backoff" % gap("unavailable"))
    check(gap("crashing") >= 0.45, "500 retried after %.2f s: no backoff" % gap("crashing"))
    # After a 429, a 503 or a dropped connection the whole outbox pauses, not just that report.
    ordered = sorted(reqs, key=lambda r: r["time"])
    for r, nxt in zip(ordered, ordered[1:]):
        if r["answer"] in (503, 429, "drop"):
            check(nxt["time"] - r["time"] >= 0.45, "a request %.2f s after a %s answer: the server-wide pause "
                  "was not kept" % (nxt["time"] - r["time"], r["answer"]))
    check(items[cases["bad"][0]]["last_status"] == 400, "held item has no status 400")
    # benchctl outbox shows the held report with the server's answer and what to do.
    rc, out, err = b.ctl("outbox")
    check(rc == 0, "benchctl outbox: %d %s" % (rc, err))
    bad = cases["bad"][0]
    check(bad in out and "held" in out and "ticket T-0 is closed" in out and "benchctl outbox retry " + bad in out,
          "benchctl outbox does not show the held answer:\n" + out)
    ok_id = cases["ok"][0]
    check(any(ok_id in l and "delivered" in l and "case C-" + ok_id[:8] in l for l in out.splitlines()),
          "benchctl outbox does not show the case id the receiver gave:\n" + out)
    rc, out, err = b.ctl("status")
    check(rc == 0 and "3 held" in out and "8 delivered" in out, "benchctl status:\n" + out + err)
    # The booking system is fixed; the technician retries the held one.
    plans[bad] = "201"
    plans[cases["unprocessable"][0]] = "201"
    plans[cases["redirected"][0]] = "201"
    rx.set_plan(plans)
    rc, out, err = b.ctl("outbox", "retry", bad)
    check(rc == 0 and "queued" in out, "outbox retry: %d %s %s" % (rc, out, err))
    wait_for("the retried report to be delivered", lambda: b.outbox()["counts"]["delivered"] == len(cases) - 2, 15)
    rc, out, err = b.ctl("outbox", "retry", "--held")
    check(rc == 0 and out == "2 held reports queued for upload now\n", "retry --held: %d %r %s" % (rc, out, err))
    wait_for("the other held reports to be delivered", lambda: b.outbox()["counts"]["delivered"] == len(cases), 15)
    rc, out, err = b.ctl("outbox", "retry", bad)
    check(rc == 1 and "already delivered" in err, "retry of a delivered report: %d %s" % (rc, err))
    rc, out, err = b.ctl("outbox", "retry", "no-such-report")
    check(rc == 2 and "no report no-such-report in the outbox" in err,
          "retry of an unknown report names it, exit 2: %d %s" % (rc, err))
    check(rx.accepted() == {c[0] for c in cases.values()} - {cases["conflict"][0]},
          "the receiver did not keep every case")
    check(b.stop() == 0, "benchd did not exit 0 on SIGTERM")
    log("benchd log:\n" + b.proc.text())
    rx.stop()


def set_conf(b, old, new):
    with open(b.conf) as f:
        conf = f.read()
    check(old in conf, "the test's configuration has no %r" % old)
    with open(b.conf, "w") as f:
        f.write(conf.replace(old, new))


def t_timeout(work):
    """timeout_seconds (README "Upload"): a receiver that takes the request and never answers is
    cut off at that time, said so in the outbox, and the report tried again later."""
    rx = Receiver(work)
    b = Bench(work, upload_url=rx.url)
    set_conf(b, "timeout_seconds = 5", "timeout_seconds = 2")
    rid, _, _ = make_report(b.state)
    rx.set_plan("sleep:60000:201")  # takes it, then says nothing for a minute
    b.start()
    wait_for("the request to arrive", lambda: rx.begun() >= 1, 20, 0.02)
    t0 = os.stat(os.path.join(rx.dir, "begun", "000001")).st_mtime  # when the receiver had it
    item = wait_for("benchd to give up on the silent receiver",
                    lambda: (lambda o: o["items"] and o["items"][0]["last_answer"] and o["items"][0])(b.outbox()),
                    30, 0.05)
    took = time.time() - t0
    log("cut off %.1f s after the request arrived: %s" % (took, item["last_answer"]))
    check(item["state"] == "pending" and item["last_status"] == 0, "a timed-out upload stays pending: %s" % item)
    check("timed out after 2" in item["last_answer"], "the reason names the 2 s timeout: %r" % item["last_answer"])
    check(1.5 <= took < 15, "cut off %.1f s after the request arrived, want about 2 s (timeout_seconds = 2)" % took)
    b.stop()
    rx.stop()


def t_token(work):
    """The token is re-read for every request (README "Upload"): rotating token_file while benchd
    runs changes the next request's Authorization, with no restart."""
    rx = Receiver(work)
    rx_token = os.path.join(rx.dir, "token")
    with open(rx_token, "w") as f:
        f.write("first-token")
    b = Bench(work, upload_url=rx.url, token_file=write_token(work, "first-token\n"))
    r1, _, _ = make_report(b.state, n=1)
    b.start()
    pid = b.proc.p.pid
    wait_for("the first report delivered", lambda: rx.accepted() == {r1}, 20)
    # The shop rotates the token: the receiver takes only the new one from now on.
    with open(rx_token, "w") as f:
        f.write("second-token")
    write_token(work, " second-token \n")
    r2, _, _ = make_report(b.state, n=2)  # adopted while benchd runs (README "The state directory")
    # The receiver files a case as accepted a moment before it records the request itself.
    wait_for("the second report delivered", lambda: rx.accepted() == {r1, r2} and
             {r1, r2} <= {r["key"] for r in rx.requests()}, 30)
    by = {}
    for r in rx.requests():
        by.setdefault(r["key"], []).append({k.lower(): v for k, v in r["headers"].items()}.get("authorization"))
    check(by[r1] == ["Bearer first-token"], "report 1 went with %s" % by[r1])
    check(by[r2] == ["Bearer second-token"], "report 2, after the rotation, went with %s (want the new token "
          "at its first try)" % by[r2])
    check(b.proc.alive() and b.proc.p.pid == pid and b.runs == 1, "benchd restarted")
    b.stop()
    rx.stop()


def t_statedir(work):
    """One benchd per state directory (README): a second one on the same directory, even with a
    control socket of its own, refuses to start, names the first one's pid, and changes nothing."""
    a = Bench(work, name="a")
    a.start()
    with open(os.path.join(a.state, "benchd.lock")) as f:
        check(f.read().strip() == str(a.proc.p.pid), "benchd.lock does not hold the running benchd's pid")
    b = Bench(work, name="b", socket_path=os.path.join(work, "b.sock"))
    shutil.rmtree(b.state)
    b.state = a.state
    p = b.start(wait=False)
    rc = p.p.wait(timeout=30)
    text = p.text()
    check(rc == 1, "a second benchd on the same state directory exited %d, want 1:\n%s" % (rc, text))
    want = "another benchd (pid %d) uses the state directory %s: stop it first" % (a.proc.p.pid, a.state)
    check(want in text and text.count("error:") == 1, "the second benchd said:\n%s\nwant: %s" % (text, want))
    check(not os.path.exists(b.sock), "the refused benchd left a control socket")
    with open(os.path.join(a.state, "benchd.lock")) as f:
        check(f.read().strip() == str(a.proc.p.pid), "the refused benchd changed benchd.lock")
    check(a.ctl("status")[0] == 0, "the first benchd stopped answering")
    check(a.stop() == 0, "the first benchd did not stop cleanly")
    # Once it has stopped, the directory is free again.
    b.start()
    check(b.ctl("status", json_out=True)[1]["pid"] == b.proc.p.pid, "the state directory is not free after a stop")
    b.stop()


def make_ca_and_cert(work):
    """A private CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "benchd test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(work, n) for n in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


def t_tls(work):
    """HTTPS: a server the system store does not trust gets nothing (kept pending with the TLS
    error); with ca_file naming its CA, the upload goes through."""
    ca, cert, key = make_ca_and_cert(work)
    rx = Receiver(work, tls=(cert, key))
    b = Bench(work, upload_url=rx.url, token_file=write_token(work))
    rid, _, _ = make_report(b.state)
    b.start()
    ob = wait_for("a failed TLS attempt", lambda: (lambda o: o["items"] and o["items"][0]["attempts"] >= 1
                                                     and o["items"][0]["last_answer"] and o)(b.outbox()), 20)
    item = ob["items"][0]
    check(item["state"] == "pending" and item["last_status"] == 0, "untrusted server: %s" % item)
    check("certificate" in item["last_answer"].lower(), "no TLS reason: %r" % item["last_answer"])
    check(rx.requests() == [], "a request reached a server whose certificate is not trusted")
    b.stop()
    with open(b.conf) as f:
        conf = f.read().replace("ca_file = \n", "").replace("[upload]\n", "[upload]\nca_file = %s\n" % ca)
    with open(b.conf, "w") as f:
        f.write(conf)
    b.start()
    wait_for("the upload over verified TLS", lambda: b.outbox()["counts"]["delivered"] == 1, 20)
    check(rx.accepted() == {rid}, "the HTTPS receiver did not get the case")
    b.stop()
    rx.stop()


def t_crash(work):
    """SIGKILL in the middle of uploads, twice; every report delivered under one key, one body."""
    rx = Receiver(work, delay_ms=150)
    b = Bench(work, upload_url=rx.url, token_file=write_token(work))
    ids = set()
    for n in range(24):
        rid, _, _ = make_report(b.state, ticket="T-%d" % n, n=n)
        ids.add(rid)
    # Some answers fail first, so retries also cross the kills.
    rx.set_plan({"*": "500,201"})
    b.start()
    for kill in (4, 12):
        # Kill while a request is in flight: the receiver has it, benchd has no answer yet.
        wait_for("a request in flight after %d answers" % kill,
                 lambda: len(rx.requests()) >= kill and rx.begun() > len(rx.requests()), 30, 0.005)
        b.stop(signal.SIGKILL)
        log("killed benchd with a request in flight, after %d answered" % len(rx.requests()))
        b.start()
    wait_for("every report delivered",
             lambda: b.outbox()["counts"]["delivered"] == len(ids), 60)
    ob = b.outbox()
    check(ob["counts"]["pending"] == 0 and ob["counts"]["held"] == 0, "outbox %s" % ob["counts"])
    reqs = rx.requests()
    bodies = {}
    for r in reqs:
        check(r["key"] in ids, "a request under an unknown key %r" % r["key"])
        bodies.setdefault(r["key"], set()).add(r["body_sha256"])
    check(set(bodies) == ids, "reports never sent: %s" % (ids - set(bodies)))
    for k, v in bodies.items():
        check(len(v) == 1, "report %s was sent with %d different bodies" % (k, len(v)))
    check(rx.accepted() == ids, "the receiver did not accept every report")
    b.stop()
    # The store agrees after all this and is intact.
    db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check failed")
    check(db.execute("SELECT count(*) FROM reports").fetchone()[0] == len(ids), "reports rows")
    check(db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "not WAL")
    log("%d requests for %d reports across 2 kills" % (len(reqs), len(ids)))
    rx.stop()


def t_control(work):
    """One benchd per control socket; stale sockets removed; not-a-socket refused; exit 7; protocol."""
    shared = os.path.join(work, "ctl.sock")
    a = Bench(work, name="a", socket_path=shared)
    b = Bench(work, name="b", socket_path=shared)
    a.start()
    mode = stat.S_IMODE(os.stat(shared).st_mode)
    check(mode == 0o660, "control socket mode %o, want 660" % mode)
    p = b.start(wait=False)
    rc = p.p.wait(timeout=20)
    check(rc == 1, "a second benchd on the same socket exited %d, want 1" % rc)
    check("another benchd answers on " + shared in p.text(), "second benchd said:\n" + p.text())
    check(a.ctl("status")[0] == 0, "the first benchd stopped answering")
    # The protocol: one JSON object per line, bounded.
    s = socket.socket(socket.AF_UNIX)
    s.connect(shared)
    f = s.makefile("rwb")
    f.write(b'{"cmd":"status"}\n{"cmd":"nope"}\nnot json\n')
    f.flush()
    answers = [json.loads(f.readline()) for _ in range(3)]
    check(answers[0]["ok"] is True and answers[0]["pid"] == a.proc.p.pid, "status answer %s" % answers[0])
    check(answers[1]["ok"] is False and "unknown cmd" in answers[1]["error"], "unknown cmd answer %s" % answers[1])
    check(answers[2]["ok"] is False, "garbage answer %s" % answers[2])
    f.write(b"x" * 10000)
    f.flush()
    long_answer = f.readline()
    check(b"too long" in long_answer, "an overlong line was not refused: %r" % long_answer[:100])
    try:
        rest = f.readline()
    except ConnectionResetError:  # closed with our unread bytes still queued
        rest = b""
    check(rest == b"", "the connection stays open after an overlong line")
    s.close()
    # SIGKILL leaves a stale socket: the next benchd removes it and starts.
    a.stop(signal.SIGKILL)
    check(os.path.exists(shared), "no stale socket left to test with")
    rc, out, err = b.ctl("status")
    check(rc == 7 and "benchd is not running (no answer on %s)" % shared in err,
          "benchctl with no daemon: %d %s" % (rc, err))
    for cmd in ("sessions", "outbox"):
        check(b.ctl(cmd)[0] == 7, "benchctl %s with no daemon is not exit 7" % cmd)
    # systemd Type=notify: READY=1 once it answers, STOPPING=1 on SIGTERM.
    npath = os.path.join(work, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(npath)
    ns.settimeout(20)
    b.start(env={"NOTIFY_SOCKET": npath})
    check(ns.recv(256) == b"READY=1", "no READY=1 on NOTIFY_SOCKET")
    check("removing the stale socket" in b.proc.text(), "stale socket removal not logged")
    rc, st, err = b.ctl("status", json_out=True)
    check(rc == 0 and st["state_dir"] == b.state and st["sessions"]["max"] == 64, "status --json %s" % st)
    rc, out, err = b.ctl("sessions", json_out=True)
    check(rc == 0 and out["live"] == [] and isinstance(out["recent"], list), "sessions --json %s" % out)
    rc, out, err = b.ctl("outbox")
    check(rc == 0 and "uploads are off" in out, "outbox without url: %s" % out)
    check(b.stop() == 0, "benchd exit status on SIGTERM")
    check(ns.recv(256) == b"STOPPING=1", "no STOPPING=1 on NOTIFY_SOCKET")
    ns.close()
    check(not os.path.exists(shared), "benchd left its socket behind after a clean stop")
    # Something that is not a socket is never removed.
    with open(shared, "w") as f:
        f.write("precious")
    p = b.start(wait=False)
    check(p.p.wait(timeout=20) == 1 and "is not a socket" in p.text(), "not-a-socket:\n" + p.text())
    with open(shared) as f:
        check(f.read() == "precious", "benchd touched a file that is not a socket")


def t_check_config(work):
    """--check-config: 'configuration OK' and 0, or the one-line error and 1."""
    exe = os.path.join(A.bin, "benchd")
    good = os.path.join(work, "good.conf")
    with open(good, "w") as f:
        f.write("[bench]\nid = desk-7\nmax_sessions = 8\n[upload]\nurl = https://cases.example.test\n"
                "token_file = %s\n" % write_token(work))
    r = subprocess.run([exe, "--config", good, "--check-config"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout == "configuration OK\n" and r.stderr == "",
          "good config: %d %r %r" % (r.returncode, r.stdout, r.stderr))
    bad = os.path.join(work, "bad.conf")
    with open(bad, "w") as f:
        f.write("[bench]\nid = desk-7\n\n[upload]\nurll = https://x\n")
    r = subprocess.run([exe, "--config", bad, "--check-config"], capture_output=True, text=True)
    check(r.returncode == 1 and r.stdout == "" and
          r.stderr == "benchd: %s line 5: unknown key 'urll' in [upload]\n" % bad,
          "bad config: %d %r %r" % (r.returncode, r.stdout, r.stderr))
    notoken = os.path.join(work, "notoken.conf")
    with open(notoken, "w") as f:
        f.write("[upload]\nurl = https://x.test\ntoken_file = %s/missing\n" % work)
    r = subprocess.run([exe, "--config", notoken, "--check-config"], capture_output=True, text=True)
    check(r.returncode == 1 and "token_file %s/missing: No such file or directory" % work in r.stderr
          and r.stderr.count("\n") == 1, "missing token: %d %r" % (r.returncode, r.stderr))
    # ca_file must be readable now, not at the first upload (README --check-config).
    for section in ("upload", "fleet"):
        cafile = os.path.join(work, "no-such-ca.pem")
        conf = os.path.join(work, "ca-%s.conf" % section)
        with open(conf, "w") as f:
            f.write("[%s]\nurl = https://x.test\ntoken_file = %s\nca_file = %s\n" % (section, write_token(work), cafile))
        r = subprocess.run([exe, "--config", conf, "--check-config"], capture_output=True, text=True)
        want = "%sca_file %s: No such file or directory" % ("[fleet] " if section == "fleet" else "", cafile)
        check(r.returncode == 1 and want in r.stderr and r.stderr.count("\n") == 1 and r.stdout == "",
              "[%s] ca_file missing: %d %r, want %r" % (section, r.returncode, r.stderr, want))
        with open(cafile, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\n")
        r = subprocess.run([exe, "--config", conf, "--check-config"], capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout == "configuration OK\n", "[%s] ca_file readable: %d %r" %
              (section, r.returncode, r.stderr))
        os.unlink(cafile)
    r = subprocess.run([exe, "--config", work + "/nope.conf", "--check-config"], capture_output=True, text=True)
    check(r.returncode == 1 and "No such file or directory" in r.stderr, "missing config: %r" % r.stderr)
    r = subprocess.run([exe, "--check-config"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout == "configuration OK\n", "defaults: %r" % r.stdout)
    if devices_ready() is None:  # trees are checked when benchd has the engine
        trees = os.path.join(work, "trees.conf")
        with open(trees, "w") as f:
            f.write("[bench]\ntrees = battery, batery\n")
        r = subprocess.run([exe, "--config", trees, "--check-config"], capture_output=True, text=True)
        check(r.returncode == 1 and "trees: 'batery' is not a tree" in r.stderr, "unknown tree: %r" % r.stderr)


def in_namespace(test, work):
    """Re-run this test as root of a user+mount namespace (tmpfs, read-only binds), or skip."""
    if os.environ.get("BENCHD_TEST_IN_NS") == "1":
        return None
    if shutil.which("unshare") is None:
        print("SKIP: no unshare(1) to make a small or read-only file system")
        return SKIP
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        print("SKIP: user namespaces are not available here: %s" % probe.stderr.decode().strip())
        return SKIP
    env = dict(os.environ, BENCHD_TEST_IN_NS="1")
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, __file__,
                           "--bin", A.bin, "--work", work, test], env=env).returncode


def t_disk(work):
    """A full disk: clear errors, no corruption, and everything stored once there is room."""
    r = in_namespace("disk", work)
    if r is not None:
        return r
    mnt = os.path.join(work, "small")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", mnt], check=True)
    b = Bench(work, state_root=mnt)
    b.start()
    b.stop()
    ids = {make_report(b.state, n=n)[0] for n in range(3)}
    filler = os.path.join(mnt, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)
    b.start(wait=False)
    time.sleep(0.1)
    wait_for("benchd to start or give up", lambda: not b.proc.alive() or b.ctl("status")[0] == 0, 20)
    text = b.proc.text()
    check("disk is full" in text or "No space left" in text, "no clear disk-full message:\n" + text)
    if b.proc.alive():
        b.stop()
    log("on a full disk benchd said:\n" + text)
    os.unlink(filler)
    b.start()
    wait_for("the reports to be adopted", lambda: b.ctl("status", json_out=True)[1]["reports"] == 3, 20)
    b.stop()
    db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "the database is damaged")
    check({r[0] for r in db.execute("SELECT report_id FROM reports")} == ids, "reports missing")
    db.close()
    if devices_ready() is None:
        disk_full_in_session(work, mnt, b, filler)
    else:
        log("device part skipped: " + devices_ready())
    return 0


def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)


def disk_full_in_session(work, mnt, b, filler):
    """The disk fills while benchd runs: a device's session fails with a clear reason, benchd
    stays up, and once there is room a replugged device is diagnosed and stored."""
    (udid, pdir), = clone_profiles(work, 1)
    emu = Emu(work, [(udid, pdir)])
    emu.cmd("detach " + udid)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b.start()
    fill(filler)
    check(emu.cmd("attach " + pdir).startswith("ok"), "attach")
    wait_for("the session on a full disk to end", lambda: "session failed" in b.proc.text() or
             "session done" in b.proc.text(), 30)
    text = b.proc.text()
    check("session failed" in text and ("No space left on device" in text or "disk is full" in text),
          "no clear reason for a session on a full disk:\n" + text)
    check(b.ctl("status")[0] == 0, "benchd stopped answering on a full disk")
    os.unlink(filler)
    check(emu.cmd("detach " + udid) == "ok", "detach")
    wait_for("the unplug to be seen", lambda: "%s: unplugged" % udid in b.proc.text(), 10)
    check(emu.cmd("attach " + pdir).startswith("ok"), "re-attach")
    wait_for("a report once there is room", lambda: b.ctl("status", json_out=True)[1]["reports"] == 4, 30)
    b.stop()
    emu.stop()
    db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "the database is damaged")
    log("full disk during a session: " + [l for l in text.splitlines() if "session failed" in l][0])


def t_readonly(work):
    """A read-only state directory: one clear error and exit 1, nothing changed."""
    r = in_namespace("readonly", work)
    if r is not None:
        return r
    b = Bench(work)
    b.start()
    b.stop()
    before = {n: os.stat(os.path.join(b.state, n)).st_mtime_ns for n in os.listdir(b.state)}
    subprocess.run(["mount", "--bind", b.state, b.state], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", b.state], check=True)
    p = b.start(wait=False)
    rc = p.p.wait(timeout=20)
    text = p.text()
    check(rc == 1, "benchd on a read-only state dir exited %d:\n%s" % (rc, text))
    check("not writable" in text and "Read-only file system" in text and b.state in text,
          "no clear read-only message:\n" + text)
    check(text.count("error:") == 1, "want one error line:\n" + text)
    after = {n: os.stat(os.path.join(b.state, n)).st_mtime_ns for n in os.listdir(b.state)}
    check(before == after, "files changed on a read-only state dir")
    return 0


# ---------------------------------------------------------------------------------------------
# Devices: idevice-emu, the real drivers, capture and pipeline.

PROFILES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "profiles")


def devices_ready():
    """None: the emulator and benchd's device sessions are always built now. A missing emulator
    is a broken build, so it fails the test instead of skipping it."""
    if not os.path.exists(os.path.join(A.bin, "idevice-emu")):
        raise SystemExit("FAIL: idevice-emu is not built in " + A.bin)
    return None


def clone_profiles(work, n, names=("worn-battery-11", "healthy-15pro", "thermal-loop-12", "smc-14", "locked-13")):
    """n profiles with unique UDIDs, copied from the bundled ones."""
    import plistlib
    out = []
    for i in range(n):
        src = os.path.join(PROFILES, names[i % len(names)])
        dst = os.path.join(work, "profiles", "%02d-%s" % (i, names[i % len(names)]))
        shutil.copytree(src, dst)
        pl = os.path.join(dst, "device.plist")
        with open(pl, "rb") as f:
            d = plistlib.load(f)
        root = d["Lockdown"]["Root"]
        udid = "%s%04X" % (root["UniqueDeviceID"][:-4], i)
        root["UniqueDeviceID"] = udid
        with open(pl, "wb") as f:
            plistlib.dump(d, f)
        out.append((udid, dst))
    return out


class Emu:
    def __init__(self, work, profiles):
        self.sock = os.path.join(work, "mux.sock")
        self.control = os.path.join(work, "emu-control.sock")
        self.proc = Proc([os.path.join(A.bin, "idevice-emu"), "--socket", self.sock, "--control", self.control]
                         + [p for _, p in profiles], os.path.join(work, "emu.log"))
        wait_for("the emulator's socket", lambda: os.path.exists(self.sock), 15)

    def cmd(self, line):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.control)
        s.sendall(line.encode() + b"\n")
        f = s.makefile("rb")
        out = f.readline().decode().strip()
        s.close()
        return out

    def stop(self):
        self.proc.stop()


def sessions_by_device(b):
    rc, out, err = b.ctl("sessions", "--limit", "1000", json_out=True)
    check(rc == 0, "benchctl sessions: %s" % err)
    d = {}
    for s in out["recent"]:
        d.setdefault(s["device"], []).append(s)
    return d, out


def t_devices(work):
    """16 emulated iPhones plugged at once: 16 sessions, 16 signed reports, 16 cases uploaded."""
    why = devices_ready()
    if why:
        print("SKIP: " + why)
        return SKIP
    n = 16
    profiles = clone_profiles(work, n)
    rx = Receiver(work)
    # max_sessions below the device count: the rest must queue, and still all be diagnosed.
    b = Bench(work, upload_url=rx.url, extra="max_sessions = 6")
    emu = Emu(work, profiles)
    env_mux = "UNIX:" + emu.sock
    os.environ["USBMUXD_SOCKET_ADDRESS"] = env_mux
    t0 = time.time()
    b.start()
    seen = {"running": 0, "queued": 0}

    def all_done():
        rc, st, _ = b.ctl("status", json_out=True)
        if rc == 0:
            for k in seen:
                seen[k] = max(seen[k], st["sessions"][k])
        d, _ = sessions_by_device(b)
        ended = [s for v in d.values() for s in v if s["state"] != "running"]
        return len(ended) >= n and d

    d = wait_for("%d sessions to end" % n, all_done, 90, 0.2)
    elapsed = time.time() - t0
    wait_for("%d uploads" % n, lambda: b.outbox()["counts"]["delivered"] == n, 30)
    check(set(d) == {u for u, _ in profiles}, "sessions for %s, want every emulated device" % sorted(d))
    check(seen["running"] <= 6, "%d sessions ran at once with max_sessions = 6" % seen["running"])
    check(seen["queued"] > 0, "no device was ever queued with 16 devices and max_sessions = 6")
    check("created the bench signing key" in b.proc.text(), "no log line for the new bench key")
    for udid, ss in d.items():
        check(len(ss) == 1, "%s had %d sessions" % (udid, len(ss)))
        check(ss[0]["state"] == "done" and ss[0]["report_id"], "%s: %s" % (udid, ss[0]))
        path = os.path.join(b.state, "reports", ss[0]["report_id"] + ".jws.json")
        check(os.path.exists(path), "no signed report at " + path)
        r = subprocess.run([os.path.join(A.bin, "benchctl"), "--state-dir", b.state, "report", "verify", path],
                           capture_output=True, text=True)
        check(r.returncode == 0, "report verify %s: %s" % (path, r.stderr))
    check(rx.accepted() == {s[0]["report_id"] for s in d.values()}, "the receiver did not get every report")
    log("%d devices: all sessions ended %.1f s after benchd started" % (n, elapsed))
    b.stop()
    emu.stop()
    rx.stop()


def t_hotplug(work):
    """Detach one device mid-session: its session ends 'unplugged while ...', the others finish;
    plugged back, it gets a new session and a report."""
    why = devices_ready()
    if why:
        print("SKIP: " + why)
        return SKIP
    profiles = clone_profiles(work, 4)
    b = Bench(work)
    with open(b.conf) as f:
        conf = f.read().replace("syslog_seconds = 0", "syslog_seconds = 3")
    with open(b.conf, "w") as f:
        f.write(conf)
    emu = Emu(work, profiles)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b.start()
    victim, vdir = profiles[0]

    def capturing():
        rc, out, _ = b.ctl("sessions", json_out=True)
        return rc == 0 and any(s["device"] == victim and s["state"] == "running" and "log" in s["stage"]
                               for s in out["live"])

    wait_for("the victim's syslog capture", capturing, 30, 0.05)
    check(emu.cmd("detach " + victim) == "ok", "emulator refused the detach")
    t_detach = time.time()

    def settled():
        d, _ = sessions_by_device(b)
        ended = [s for v in d.values() for s in v if s["state"] != "running"]
        return len(ended) >= 4 and d

    d = wait_for("the four sessions to end", settled, 40)
    v = d[victim][0]
    check(v["state"] == "unplugged", "victim session state %s: %s" % (v["state"], v))
    check(v["reason"].startswith("unplugged while capturing the device log"), "victim reason %r" % v["reason"])
    check(v["report_id"] is None, "a report was made from a partial read")
    for udid, _ in profiles[1:]:
        check(d[udid][0]["state"] == "done" and d[udid][0]["report_id"], "bystander %s: %s" % (udid, d[udid]))
    ended = calendar.timegm(time.strptime(v["ended_at"], "%Y-%m-%dT%H:%M:%SZ"))
    log("victim ended %.0f s after the detach: %s" % (ended - t_detach, v["reason"]))
    rc, out, _ = b.ctl("sessions")
    by = profiles[1][0]
    line = [l for l in out.splitlines() if l.strip().startswith(by) and "finished" in l]
    check(rc == 0 and line and "fault" in line[0], "benchctl sessions shows no result for %s:\n%s" % (by, out))
    check(victim not in out.split("recent sessions")[0], "the unplugged device is still listed as attached")
    # Plugged back: a new session, a report.
    check(emu.cmd("attach " + vdir).startswith("ok " + victim), "re-attach")
    wait_for("a new session for the re-plugged device",
             lambda: any(s["state"] == "done" for s in sessions_by_device(b)[0].get(victim, [])), 30)
    d, _ = sessions_by_device(b)
    check(len(d[victim]) == 2, "re-plugged device has %d sessions" % len(d[victim]))
    check(b.ctl("status", json_out=True)[1]["reports"] == 4, "want 4 reports")
    b.stop()
    emu.stop()


def t_drain(work):
    """SIGTERM while sessions run: they finish and their reports are stored, then benchd exits 0;
    with drain_seconds too short, they are cancelled with that reason and benchd still stops."""
    why = devices_ready()
    if why:
        print("SKIP: " + why)
        return SKIP
    profiles = clone_profiles(work, 2)
    emu = Emu(work, profiles)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    for drain, want in ((20, "done"), (1, "cancelled"), (30, "twice")):
        b = Bench(work, name="drain%d" % drain, extra="syslog_seconds = 4\ndrain_seconds = %d" % drain)
        with open(b.conf) as f:
            conf = f.read().replace("syslog_seconds = 0\ndrain_seconds = 20\n", "")
        with open(b.conf, "w") as f:
            f.write(conf)
        b.start()
        wait_for("two running sessions", lambda: sum(1 for s in b.ctl("sessions", json_out=True)[1]["live"]
                                                     if s["state"] == "running") == 2, 20)
        t0 = time.time()
        if want == "twice":  # the operator insists: a second signal cancels at once
            b.proc.p.send_signal(signal.SIGTERM)
            wait_for("the drain to begin", lambda: "signal again to cancel" in b.proc.text(), 10)
            want = "cancelled"
        check(b.stop(signal.SIGTERM) == 0, "benchd did not exit 0 after draining")
        took = time.time() - t0
        db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
        rows = db.execute("SELECT state, reason, report_id FROM sessions").fetchall()
        check(len(rows) == 2 and all(r[0] == want for r in rows), "drain %d: sessions %s" % (drain, rows))
        if want == "done":
            check(all(r[2] for r in rows), "drained sessions have no report")
        else:
            check(all("benchd is stopping" in r[1] and r[2] is None for r in rows), "cancelled: %s" % rows)
            check(took < 1 + 10, "benchd took %.1f s to stop with drain_seconds = %d" % (took, drain))
            if drain == 30:
                check(took < 5 and "signalled again: cancelling" in b.proc.text(),
                      "a second SIGTERM did not cancel at once (%.1f s)" % took)
        log("drain_seconds %d: stopped in %.1f s, sessions %s" % (drain, took, [r[0] for r in rows]))
    emu.stop()


def t_usb(work):
    """USB-level devices (recovery, DFU) under umockdev: benchd's libusb hotplug sees them next to a
    usbmux device, and each gets a session and a signed report that says which mode it is in."""
    why = devices_ready()
    if why:
        print("SKIP: " + why)
        return SKIP
    if shutil.which("umockdev-run") is None:
        print("SKIP: umockdev-run is not installed (Debian package umockdev)")
        return SKIP
    usb = os.path.join(os.path.dirname(HERE), "drivers", "usb")
    profiles = clone_profiles(work, 1, names=("healthy-15pro",))
    emu = Emu(work, profiles)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b = Bench(work)
    b.start(prefix=["umockdev-run", "-d", os.path.join(usb, "recovery-iphone11.umockdev"),
                    "-d", os.path.join(usb, "dfu-iphone15pro.umockdev"), "--"],
            env={"ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=0"})

    def three_done():
        d, _ = sessions_by_device(b)
        return len([s for v in d.values() for s in v if s["state"] != "running"]) >= 3 and d

    d = wait_for("three sessions (usbmux, recovery, DFU)", three_done, 40)
    modes = {}
    for dev, ss in d.items():
        check(ss[0]["state"] == "done" and ss[0]["report_id"], "%s: %s" % (dev, ss[0]))
        path = os.path.join(b.state, "reports", ss[0]["report_id"] + ".jws.json")
        r = subprocess.run([os.path.join(A.bin, "benchctl"), "--state-dir", b.state, "report", "show", path,
                            "--format", "json"], capture_output=True, text=True)
        check(r.returncode == 0, "report show: %s" % r.stderr)
        rep = json.loads(r.stdout)
        rep = rep.get("report", rep)
        modes[dev] = (rep["device"].get("mode"), sorted(f["code"] for f in rep.get("faults", [])))
    log("sessions: %s" % modes)
    check(sorted(m for m, _ in modes.values()) == ["dfu", "normal", "recovery"], "modes %s" % modes)
    for dev, (mode, codes) in modes.items():
        if mode == "recovery":
            check("SYS-001" in codes and dev.startswith("0x"), "recovery device %s: %s" % (dev, codes))
        if mode == "dfu":
            check("SYS-002" in codes and dev.startswith("0x"), "DFU device %s: %s" % (dev, codes))
    rc, st, _ = b.ctl("status", json_out=True)
    check(st["sessions"]["usb_hotplug"] is True and st["sessions"]["usbmux"] is True, "watchers %s" % st["sessions"])
    b.stop()
    emu.stop()


def t_probes(work):
    """trees = battery: each device is read for what the battery tree needs only (no 5 s syslog
    capture, no crash reports), and the report runs that tree alone."""
    why = devices_ready()
    if why:
        print("SKIP: " + why)
        return SKIP
    profiles = clone_profiles(work, 1, names=("worn-battery-11",))
    emu = Emu(work, profiles)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b = Bench(work, extra="trees = battery")
    with open(b.conf) as f:
        conf = f.read().replace("syslog_seconds = 0", "syslog_seconds = 5")
    with open(b.conf, "w") as f:
        f.write(conf)
    t0 = time.time()
    b.start()
    d = wait_for("the session", lambda: (lambda d: d if d and all(s[0]["state"] != "running" for s in d.values())
                                         else None)(sessions_by_device(b)[0]), 30)
    took = time.time() - t0
    s0 = list(d.values())[0][0]
    check(s0["state"] == "done", "session %s" % s0)
    with open(os.path.join(b.state, "reports", s0["report_id"] + ".snapshot.json")) as f:
        snap = json.load(f)
    check("syslog" not in snap.get("probes", []) and "crashes" not in snap.get("probes", []),
          "probes read: %s" % snap.get("probes"))
    check("battery" in snap.get("probes", []), "battery not read: %s" % snap.get("probes"))
    check(took < 5, "the session took %.1f s: the 5 s syslog capture was not skipped" % took)
    check("probes read from each device" in b.proc.text(), "no log line for the probes")
    log("trees = battery: probes %s, session done %.1f s after start" % (snap.get("probes"), took))
    b.stop()
    emu.stop()


def harness_child(work, how):
    """Start what a test starts (a receiver, an emulator, benchd with a session), note their
    process groups, then end as a broken test would: a failed check, an unexpected exception,
    or SIGTERM from outside (ctest's timeout)."""
    rx = Receiver(work)
    profiles = clone_profiles(work, 1, names=("healthy-15pro",))
    emu = Emu(work, profiles)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b = Bench(work, upload_url=rx.url)
    with open(b.conf) as f:
        conf = f.read().replace("syslog_seconds = 0", "syslog_seconds = 30")
    with open(b.conf, "w") as f:
        f.write(conf)
    b.start()
    wait_for("a running session", lambda: any(s["state"] == "running" for s in
                                               b.ctl("sessions", json_out=True)[1]["live"]), 20)
    with open(os.path.join(work, "pids.tmp"), "w") as f:
        json.dump([p.p.pid for p in STARTED], f)
    os.rename(os.path.join(work, "pids.tmp"), os.path.join(work, "pids"))
    if how == "fail":
        check(False, "failing on purpose, with benchd, the emulator and the receiver running")
    if how == "error":
        return {}["an unexpected exception, not a Fail"]
    time.sleep(60)  # "term": the parent sends SIGTERM meanwhile
    raise Fail("no SIGTERM came")


def t_harness(work):
    """A test that fails (a failed check, an exception, SIGTERM) leaves no process behind."""
    for how, want_rc in (("fail", 1), ("error", 1), ("term", 128 + signal.SIGTERM)):
        cw = os.path.join(work, how)
        os.makedirs(cw)
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--bin", A.bin, "--work", cw,
                                  "harness-child-" + how], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        pidfile = os.path.join(cw, "pids")
        try:
            wait_for("the child test to start its processes",
                     lambda: os.path.exists(pidfile) or child.poll() is not None, 60)
            if not os.path.exists(pidfile):
                raise Fail("the child test ended before starting anything:\n" +
                           child.stdout.read().decode(errors="replace"))
            with open(pidfile) as f:
                groups = json.load(f)
            check(len(groups) == 3, "the child started %d processes, want 3" % len(groups))
            if how == "term":
                child.send_signal(signal.SIGTERM)
            out, _ = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        check(child.returncode == want_rc, "%s: the failing test exited %d, want %d:\n%s" %
              (how, child.returncode, want_rc, out.decode(errors="replace")[-3000:]))
        if how != "term":
            check(b"FAIL: harness-child" in out or b"Traceback" in out,
                  "%s: the failing test did not say why:\n%s" % (how, out.decode(errors="replace")[-3000:]))

        def gone(pgid):
            try:
                os.killpg(pgid, 0)
                return False
            except ProcessLookupError:
                return True

        left = [g for g in groups if not gone(g)]
        if left:
            for g in left:  # never leave them to the next test
                os.killpg(g, signal.SIGKILL)
            raise Fail("%s: process groups %s outlived the failed test" % (how, left))
        log("%s: the test exited %d and left nothing running (%d process groups checked)" %
            (how, child.returncode, len(groups)))


CHILD_TESTS = {"harness-child-fail": lambda w: harness_child(w, "fail"),
               "harness-child-error": lambda w: harness_child(w, "error"),
               "harness-child-term": lambda w: harness_child(w, "term")}

TESTS = {"timeout": t_timeout, "token": t_token, "statedir": t_statedir, "harness": t_harness, "probes": t_probes, "usb": t_usb, "drain": t_drain, "tls": t_tls, "devices": t_devices, "hotplug": t_hotplug, "upload": t_upload, "crash": t_crash, "control": t_control, "check-config": t_check_config,
         "disk": t_disk, "readonly": t_readonly}


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="the build's bin/ directory")
    p.add_argument("--work", default="", help="keep the work directory here (default: a temp dir, removed)")
    p.add_argument("test", choices=sorted(TESTS) + sorted(CHILD_TESTS))
    A = p.parse_args()
    TESTS.update(CHILD_TESTS)
    work = A.work or tempfile.mkdtemp(prefix="benchd-test-")
    os.makedirs(work, exist_ok=True)
    ok = False
    try:
        r = TESTS[A.test](work)
        ok = r in (None, 0)
        if r == SKIP:
            return SKIP
        if not ok:
            return r
        print("PASS: %s" % A.test)
        return 0
    except Fail as e:
        print("FAIL: %s: %s" % (A.test, e))
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                with open(os.path.join(work, name), errors="replace") as f:
                    print("---- %s\n%s" % (name, f.read()[-6000:]))
        return 1
    finally:
        kill_started()  # whatever the test left running, passed or failed
        if not A.work and os.environ.get("BENCHD_TEST_IN_NS") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
