#!/usr/bin/env python3
"""benchfleet end to end on a real PostgreSQL: the real benchfleet, benchctl (and for `benchd`,
the real benchd and idevice-emu) against the cluster tests/fleet/with_pg starts.

  with_pg test_fleet.py --bin DIR TEST [--work DIR]

  ingest     three benches' reports signed by benchctl over several weeks (faketime), and
             revisions of one case out of order, sent concurrently, each several times: stored
             once each, trends equal to what the reports say, bench list counts
  refusals   tampered, another bench's, wrong kid, alg none, not benchd.report/1, another report
             under a stored id, unknown and revoked tokens, bad bodies: each its status, nothing
             stored; the retry of a stored report: 200
  benchd     benchd's own generic upload ([upload] url = benchfleet over HTTPS, ca_file) with
             emulated iPhones; PostgreSQL stopped mid-ingest (503s) then started: every report
             delivered once, byte for byte
  api        a batch problem on one model raises an alert with the exact Fisher p-value, a steady
             model none; GET /api/trends|alerts equal the command line; the API's access rules
  schema     migrations (concurrent, idempotent), a newer schema refused, an unreachable
             database, --check-config, bad command lines
  targets    benchd with both targets, [upload] (a booking receiver) and [fleet] (benchfleet over
             HTTPS), emulated iPhones, benchfleet killed mid-delivery and back later, a revision
             made meanwhile: every final report delivered once to each target
  limits     slow and idle clients dropped, the connection limit, bodies over the cap (413)

Exit 0 pass, 1 fail, 77 skipped (with the reason).
"""

import argparse
import base64
import concurrent.futures
import datetime
import glob
import hashlib
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "agent"))
import test_benchd as tb  # noqa: E402  (Proc, Emu, clone_profiles, make_ca_and_cert, Bench)

SKIP = 77
A = None
RECORDED = os.path.join(ROOT, "diag-trees", "tests", "recorded")
Fail = tb.Fail
check = tb.check
wait_for = tb.wait_for


def log(msg):
    print("test: " + msg, flush=True)


def libfaketime():
    libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    check(libs, "libfaketime is not installed (scripts/packages/fleet.test.txt; scripts/deps --test)")
    return libs[0]


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def iso_week(dt):
    y, w, _ = dt.astimezone(datetime.timezone.utc).isocalendar()
    return "%04d-W%02d" % (y, w)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def psql(sql):
    r = subprocess.run(["psql", "-AtX", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-c", sql], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise Fail("psql %r: %s" % (sql, r.stderr.strip()))
    return [line.split("\t") for line in r.stdout.splitlines() if line != ""]


def count(table):
    return int(psql("SELECT count(*) FROM %s" % table)[0][0])


def sanitizer_clean(text, what):
    check("runtime error" not in text and "AddressSanitizer" not in text and "LeakSanitizer" not in text,
          "sanitizer report in %s:\n%s" % (what, text[-4000:]))


# ---------------------------------------------------------------------------------------------
# benchfleet


class Fleet:
    def __init__(self, work, http_extra="", tls=None, name="fleet"):
        self.work = work
        self.conf = os.path.join(work, name + ".conf")
        self.tls = tls
        with open(self.conf, "w") as f:
            f.write("[db]\nconninfo =\n[http]\nlisten = 127.0.0.1:0\n%s%s\n" % (
                "tls_cert = %s\ntls_key = %s\n" % tls if tls else "", http_extra))
        self.name = name
        self.runs = 0
        self.proc = None

    def start(self):
        self.runs += 1
        self.logpath = os.path.join(self.work, "%s.%d.log" % (self.name, self.runs))
        self.proc = tb.Proc([os.path.join(A.bin, "benchfleet"), "serve", "--config", self.conf], self.logpath)

        def listening():
            m = re.search(r"listening on (https?)://127\.0\.0\.1:(\d+)", self.proc.text())
            check(self.proc.alive() or m, "benchfleet serve exited:\n" + self.proc.text())
            return m

        m = wait_for("benchfleet to listen", listening, 30)
        self.port = int(m.group(2))
        self.scheme = m.group(1)
        return self

    def stop(self):
        rc = self.proc.stop(signal.SIGTERM)
        text = self.proc.text()
        sanitizer_clean(text, "benchfleet's log")
        check(rc == 0, "benchfleet serve exited %d on SIGTERM:\n%s" % (rc, text[-3000:]))
        check("stopped" in text, "benchfleet did not say it stopped")
        return text

    def text(self):
        return self.proc.text()

    def cli(self, *args, json_out=False, conf=True):
        argv = [os.path.join(A.bin, "benchfleet")] + list(args)
        if conf:
            argv += ["--config", self.conf]
        if json_out:
            argv.append("--json")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        sanitizer_clean(r.stderr, "benchfleet %s" % " ".join(args))
        out = r.stdout
        if json_out and out.strip():
            check(out.endswith("\n") and out.count("\n") == 1, "--json is not one line: %r" % out[:300])
            out = json.loads(out)
        return r.returncode, out, r.stderr

    def register(self, bench):
        rc, out, err = self.cli("bench", "add", bench.id, "--jwk", bench.jwk_path, json_out=True)
        check(rc == 0 and out["ok"] and out["bench_id"] == bench.id, "bench add %s: %d %s %s" % (bench.id, rc, out, err))
        check(re.fullmatch(r"[0-9a-f]{64}", out["token"]), "token %r" % out["token"])
        check(out["kid"] == bench.kid, "bench add printed kid %s, the key's is %s" % (out["kid"], bench.kid))
        bench.token = out["token"]
        return bench.token

    def conn(self, timeout=30):
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.tls_ca)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def post(self, body, token, key, extra_headers=None, conn=None):
        c = conn or self.conn()
        h = {"Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if key is not None:
            h["Idempotency-Key"] = key
        h.update(extra_headers or {})
        data = body.encode() if isinstance(body, str) else body
        c.request("POST", "/cases", body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        if conn is None:
            c.close()
        check(text.endswith("\n") and text.count("\n") == 1, "the answer is not one line: %r" % text[:300])
        return r.status, json.loads(text), r

    def get(self, path, headers=None):
        c = self.conn()
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, json.loads(text), r


# ---------------------------------------------------------------------------------------------
# Benches: a state directory with a bench key made by benchctl; reports signed by benchctl run
# (faketime for the date) or, for variants benchctl cannot make yet, re-signed here with the
# same key.


def shifted_snapshot(name, at, work):
    """The recorded snapshot moved in time so that it was captured at `at` (captured_at and
    crash timestamps shifted by the same amount: the 7-day rules still hold)."""
    with open(os.path.join(RECORDED, name + ".json")) as f:
        snap = json.load(f)
    delta = at - parse_time(snap["captured_at"])
    snap["captured_at"] = rfc3339(at)
    for c in snap.get("crashes", []):
        if isinstance(c.get("timestamp"), str):
            try:
                c["timestamp"] = rfc3339(parse_time(c["timestamp"]) + delta)
            except ValueError:
                pass
    path = os.path.join(work, "snap-%s-%s.json" % (name, uuid.uuid4().hex[:8]))
    with open(path, "w") as f:
        json.dump(snap, f)
    return path


class BenchKey:
    def __init__(self, work, bench_id, state=None):
        self.id = bench_id
        self.work = work
        self.state = state or os.path.join(work, bench_id + "-state")
        os.makedirs(self.state, exist_ok=True)
        r = self.benchctl("key", "init")
        check(r.returncode == 0, "benchctl key init: " + r.stderr)
        r = self.benchctl("key", "export")
        check(r.returncode == 0, "benchctl key export: " + r.stderr)
        self.jwk_path = os.path.join(work, bench_id + ".jwk")
        with open(self.jwk_path, "w") as f:
            f.write(r.stdout)
        self.jwk = json.loads(r.stdout)
        self.kid = self.jwk["kid"]
        from cryptography.hazmat.primitives import serialization
        with open(os.path.join(self.state, "bench-key.pem"), "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        self.token = None

    def benchctl(self, *args, at=None):
        env = dict(os.environ)
        env["BENCHD_STATE_DIR"] = self.state
        if at is not None:
            # libfaketime preloaded directly: the faketime wrapper needs sem_open(), which a CI
            # container without a usable /dev/shm refuses ("only works on platforms that support
            # the sem_open() system call").
            env["LD_PRELOAD"] = libfaketime()
            env["FAKETIME"] = "@" + at.strftime("%Y-%m-%d %H:%M:%S")
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        r = subprocess.run([os.path.join(A.bin, "benchctl")] + list(args), capture_output=True,
                           text=True, env=env, timeout=120)
        sanitizer_clean(r.stderr, "benchctl " + " ".join(args))
        return r

    def run(self, snapshot, at, ticket=None):
        """benchctl run over the snapshot, signed with created_at = at (faketime)."""
        snap = shifted_snapshot(snapshot, at, self.work)
        args = ["run", "--snapshot", snap] + (["--ticket", ticket] if ticket else [])
        r = self.benchctl(*args, at=at)
        check(r.returncode == 0, "benchctl run: %s" % r.stderr)
        m = re.search(r"^report:\s+(\S+)$", r.stdout, re.M)
        check(m, "benchctl run printed no report path:\n" + r.stdout)
        with open(m.group(1)) as f:
            jws = f.read().strip()
        p = payload_of(jws)
        check(p["created_at"] == rfc3339(at), "faketime: created_at %s, want %s" % (p["created_at"], rfc3339(at)))
        return jws

    def sign(self, payload, header=None):
        hdr = header or {"alg": "EdDSA", "kid": self.kid, "typ": "benchd-report+json"}
        protected = b64u(json.dumps(hdr, separators=(",", ":")).encode())
        pl = b64u(json.dumps(payload, separators=(",", ":")).encode())
        sig = b64u(self.key.sign((protected + "." + pl).encode()))
        return '{"protected":"%s","payload":"%s","signature":"%s"}' % (protected, pl, sig)


def payload_of(jws):
    return json.loads(unb64u(json.loads(jws)["payload"]))


def body_of(jws):
    """The 4.7 body, as benchd's upload_build_body makes it."""
    p = payload_of(jws)
    d = p.get("device", {})
    case = {"ticket": p.get("case", {}).get("ticket"), "bench_id": p["bench"]["id"],
            "device": {k: d.get(k) for k in ("udid", "serial", "product_type", "model_name")},
            "outcome": p["outcome"],
            "faults": [{"code": f.get("code"), "severity": f.get("severity"), "part": f.get("part")}
                       for f in p.get("faults", [])]}
    return '{"case":%s,"report":%s}' % (json.dumps(case, separators=(",", ":")), jws)


def variant(jws, **changes):
    """A new payload from a signed report's, with changes (and a new report_id unless given)."""
    p = payload_of(jws)
    p["report_id"] = str(uuid.uuid4())
    for k, v in changes.items():
        p[k] = v
    return p


# ---------------------------------------------------------------------------------------------
# What the analytics must say, computed here from the reports themselves.


def latest_cases(payloads):
    """{(bench, case_id): (opened_at, latest payload)} over the latest revision of each case."""
    cases = {}
    for bench, p in payloads:
        c = p.get("case") or {}
        cid = c.get("case_id") or p["report_id"]
        rev = c.get("revision") or 1 if c.get("case_id") else 1
        key = (bench, cid)
        t = parse_time(p["created_at"])
        order = (rev, t, p["report_id"])
        if key not in cases:
            cases[key] = [t, order, p]
        else:
            cases[key][0] = min(cases[key][0], t)
            if order > cases[key][1]:
                cases[key][1], cases[key][2] = order, p
    return {k: (v[0], v[2]) for k, v in cases.items()}


def expected_trends(payloads, at, weeks, model=None, code=None):
    at_week_start = (at - datetime.timedelta(days=at.weekday())).replace(hour=0, minute=0, second=0)
    since = at_week_start - datetime.timedelta(weeks=weeks - 1)
    tot, hit = {}, {}
    for (_, _), (opened, p) in latest_cases(payloads).items():
        if not (since <= opened <= at):
            continue
        d = p.get("device", {})
        pt, mn = d.get("product_type") or "", d.get("model_name") or ""
        if model is not None and model not in (pt, mn):
            continue
        wk = iso_week(opened)
        tot[(pt, mn, wk)] = tot.get((pt, mn, wk), 0) + 1
        for c in {f["code"] for f in p.get("faults", [])}:
            if code is None or c == code:
                hit[(pt, mn, wk, c)] = hit.get((pt, mn, wk, c), 0) + 1
    codes = {(pt, mn, c) for (pt, mn, _, c) in hit}
    if code is not None:
        codes |= {(pt, mn, code) for (pt, mn, _) in tot}
    rows = []
    for (pt, mn, c) in sorted(codes):
        for (tpt, tmn, wk) in sorted(tot):
            if (tpt, tmn) == (pt, mn):
                n, k = tot[(pt, mn, wk)], hit.get((pt, mn, wk, c), 0)
                rows.append({"product_type": pt, "model": mn or None, "code": c, "week": wk, "cases": n,
                             "with_code": k, "rate": k / n})
    return rows


def same_rows(got, want, what):
    def norm(rows):
        return sorted(json.dumps(dict(r, rate=round(r["rate"], 4)), sort_keys=True) for r in rows)
    g, w = norm(got), norm(want)
    if g != w:
        raise Fail("%s: benchfleet says\n  %s\nthe reports say\n  %s" % (what, "\n  ".join(g[:40]), "\n  ".join(w[:40])))


def fisher_greater(k, n, bk, bn):
    N, m = n + bn, k + bk
    return sum(math.comb(m, x) * math.comb(N - m, n - x) for x in range(k, min(n, m) + 1)) / math.comb(N, n)


# ---------------------------------------------------------------------------------------------
# Tests


def t_ingest(work):
    fleet = Fleet(work).start()
    benches = [BenchKey(work, "shop-%s" % s) for s in ("milano", "torino", "lyon")]
    for b in benches:
        fleet.register(b)
    now = now_utc()
    snaps = ["worn-battery-11", "healthy-15pro", "smc-14", "thermal-loop-12"]
    jobs = []
    for i, b in enumerate(benches):
        for w, days in enumerate((40, 33, 26, 19, 12, 5)):
            at = now - datetime.timedelta(days=days, hours=i * 3 + w)
            jobs.append((b, snaps[(i + w) % len(snaps)], at, "T-%d%d" % (i, w) if w % 2 else None))
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        signed = list(ex.map(lambda j: (j[0], j[0].run(j[1], j[2], j[3])), jobs))
    log("benchctl signed %d reports over 6 weeks on 3 benches" % len(signed))
    # One case in three revisions on shop-milano (the cases branch's case fields), sent out of
    # order: the latest revision counts, dated by the case's first report.
    a = benches[0]
    base = signed[0][1]
    cid = str(uuid.uuid4())
    t1 = now - datetime.timedelta(days=15)
    r1 = variant(base, created_at=rfc3339(t1), faults=[{"code": "BAT-001", "severity": "major", "part": "battery"}],
                 case={"case_id": cid, "ticket": None, "revision": 1, "supersedes": None})
    r2 = variant(base, created_at=rfc3339(t1 + datetime.timedelta(minutes=20)),
                 faults=[{"code": "PAN-010", "severity": "major", "part": "charge-port assembly"}],
                 case={"case_id": cid, "ticket": "T-77", "revision": 2, "supersedes": r1["report_id"]})
    r3 = variant(base, created_at=rfc3339(t1 + datetime.timedelta(minutes=50)),
                 faults=[{"code": "PAN-010", "severity": "major", "part": "charge-port assembly"},
                         {"code": "PAN-010", "severity": "major", "part": "charge-port assembly"},
                         {"code": "STO-001", "severity": "minor", "part": None}],
                 case={"case_id": cid, "ticket": "T-77", "revision": 3, "supersedes": r2["report_id"]})
    revs = [(a, a.sign(p)) for p in (r3, r1, r2)]
    allreports = signed + revs
    # Every report sent three times, shuffled, 12 at once: retries race their own first try.
    tasks = [(b, jws) for b, jws in allreports for _ in range(3)]
    random.Random(4).shuffle(tasks)
    answers = {}
    lock = threading.Lock()

    def send(task):
        b, jws = task
        rid = payload_of(jws)["report_id"]
        st, ans, _ = fleet.post(body_of(jws), b.token, rid)
        with lock:
            answers.setdefault(rid, []).append((st, ans))

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        list(ex.map(send, tasks))
    log("%d requests for %d reports in %.2f s" % (len(tasks), len(allreports), time.time() - t0))
    for rid, got in answers.items():
        sts = sorted(s for s, _ in got)
        check(sts == [200, 200, 201], "report %s: answers %s, want one 201 and two 200" % (rid, got))
        for s, ans in got:
            check(ans["ok"] is True and ans["report_id"] == rid and ans["stored"] == (s == 201), "answer %s" % ans)
    check(count("reports") == len(allreports), "%d reports rows, want %d" % (count("reports"), len(allreports)))
    nfaults = sum(len(payload_of(j).get("faults", [])) for _, j in allreports)
    check(count("faults") == nfaults, "%d fault rows, want %d" % (count("faults"), nfaults))
    check(count("cases") == len(signed) + 1, "%d cases, want %d" % (count("cases"), len(signed) + 1))
    row = psql("SELECT revision, report_id, codes, to_char(opened_at AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM cases WHERE case_id = '%s'" % cid)
    check(row == [["3", r3["report_id"], "{PAN-010,STO-001}", rfc3339(t1)]], "the revised case: %s" % row)
    # Stored byte for byte: the JWS in the database is the one the bench signed.
    for b, jws in allreports[:3]:
        rid = payload_of(jws)["report_id"]
        got = psql("SELECT jws, bench_id FROM reports WHERE report_id = '%s'" % rid)
        check(got == [[jws, b.id]], "report %s not stored as signed" % rid)

    payloads = [(b.id, payload_of(j)) for b, j in allreports]
    for args, kw in ((["--weeks", "8"], {}), (["--weeks", "2"], {}),
                     (["--model", "iPhone 11"], {"model": "iPhone 11"}),
                     (["--model", "iPhone14,7", "--code", "PAN-020"], {"model": "iPhone14,7", "code": "PAN-020"}),
                     (["--code", "BAT-001"], {"code": "BAT-001"})):
        at = now_utc()
        rc, doc, err = fleet.cli("trends", *args, "--at", rfc3339(at), json_out=True)
        check(rc == 0 and doc["ok"], "trends %s: %d %s" % (args, rc, err))
        weeks = int(args[1]) if args[0] == "--weeks" else 8
        want = expected_trends(payloads, at, weeks, **kw)
        check(len(want) > 0, "trends %s: the test data gives no row" % args)
        same_rows(doc["rows"], want, "trends %s" % " ".join(args))
    rc, out, err = fleet.cli("trends")
    check(rc == 0 and "iPhone 11 (iPhone12,1)" in out and "BAT-001" in out and iso_week(now - datetime.timedelta(days=12)) in out and
          "cases" in out and "%" in out, "trends (text):\n" + out + err)
    log("trends (text):\n" + out)
    rc, doc, err = fleet.cli("bench", "list", json_out=True)
    check(rc == 0, "bench list: %s" % err)
    by_id = {b["bench_id"]: b for b in doc["benches"]}
    check(set(by_id) == {b.id for b in benches}, "bench list ids %s" % sorted(by_id))
    check(by_id["shop-milano"]["reports"] == 9 and by_id["shop-milano"]["cases"] == 7 and
          by_id["shop-torino"]["reports"] == 6 and by_id["shop-lyon"]["cases"] == 6,
          "bench list counts %s" % doc["benches"])
    check(all(b["revoked_at"] is None and b["last_report_at"] for b in doc["benches"]), "bench list %s" % doc)
    rc, out, err = fleet.cli("bench", "list")
    check(rc == 0 and "shop-torino" in out and "active" in out, "bench list:\n" + out)
    fleet.stop()


def t_refusals(work):
    fleet = Fleet(work).start()
    a, b = BenchKey(work, "bench-a"), BenchKey(work, "bench-b")
    fleet.register(a)
    fleet.register(b)
    now = now_utc()
    jws = a.run("worn-battery-11", now - datetime.timedelta(days=2), "T-1")
    rid = payload_of(jws)["report_id"]
    stored = []

    def expect(status, body, token, key, words, what, headers=None):
        st, ans, _ = fleet.post(body, token, key, headers)
        check(st == status, "%s: HTTP %d %s, want %d" % (what, st, ans, status))
        if status >= 400:
            check(ans["ok"] is False and all(w in ans["error"] for w in words),
                  "%s: error %r lacks %s" % (what, ans.get("error"), words))
        log("%s: %d %s" % (what, st, ans.get("error", "")))
        return ans

    expect(201, body_of(jws), a.token, rid, [], "a's report under a's token")
    stored.append(rid)
    ans = expect(200, body_of(jws), a.token, rid, [], "the same report again (a retry)")
    check(ans["stored"] is False, "retry answer %s" % ans)
    # The unsigned case member is derived by the bench and ignored: the same signed report is a retry.
    other_case = body_of(jws).replace('"outcome":"fail"', '"outcome":"pass"', 1)
    expect(200, other_case, a.token, rid, [], "the same signed report with another unsigned case part")
    check(count("reports") == 1 and count("cases") == 1, "a retry stored something")

    # Tampered: one character of the payload changed.
    j = json.loads(jws)
    p = list(j["payload"])
    p[200] = "A" if p[200] != "A" else "B"
    tampered = '{"protected":"%s","payload":"%s","signature":"%s"}' % (j["protected"], "".join(p), j["signature"])
    jws2 = a.run("healthy-15pro", now - datetime.timedelta(days=1))
    rid2 = payload_of(jws2)["report_id"]
    expect(422, body_of(jws).replace(jws, tampered), a.token, rid, ["signature does not verify"], "tampered payload")
    j2 = json.loads(jws2)
    sig = bytearray(unb64u(j2["signature"]))
    sig[5] ^= 1
    bad_sig = '{"protected":"%s","payload":"%s","signature":"%s"}' % (j2["protected"], j2["payload"], b64u(bytes(sig)))
    expect(422, body_of(jws2).replace(jws2, bad_sig), a.token, rid2, ["signature does not verify"], "altered signature")
    # a's report under b's token.
    expect(422, body_of(jws2), b.token, rid2, ["bench-b", a.kid], "a's report under b's token")
    # Unknown token, no token, a token for another scheme.
    expect(401, body_of(jws2), "0" * 64, rid2, ["unknown token"], "unknown token")
    expect(401, body_of(jws2), None, rid2, ["no bearer token"], "no token")
    expect(401, body_of(jws2), None, rid2, ["no bearer token"], "Basic auth",
           headers={"Authorization": "Basic YTpi"})
    # Signed by the right key but with a kid that is not the key's thumbprint.
    pl = variant(jws2)
    wrong_kid = a.sign(pl, {"alg": "EdDSA", "kid": b.kid, "typ": "benchd-report+json"})
    expect(422, body_of(wrong_kid), a.token, pl["report_id"], ["signed by key " + b.kid], "wrong kid")
    none_alg = '{"protected":"%s","payload":"%s","signature":""}' % (
        b64u(b'{"alg":"none","kid":"%s","typ":"benchd-report+json"}' % a.kid.encode()), json.loads(jws2)["payload"])
    expect(422, body_of(jws2).replace(jws2, none_alg), a.token, rid2, ["report refused"], "alg none")
    # Properly signed, but not a benchd.report/1.
    pl = variant(jws2, schema="benchd.report/2")
    expect(422, body_of(a.sign(pl)), a.token, pl["report_id"], ["benchd.report/1"], "schema benchd.report/2")
    pl = variant(jws2, outcome="maybe")
    expect(422, body_of(a.sign(pl)), a.token, pl["report_id"], ["outcome"], "an outcome that is not one")
    pl = variant(jws2, created_at="yesterday")
    expect(422, body_of(a.sign(pl)), a.token, pl["report_id"], ["created_at"], "created_at not a time")
    pl = variant(jws2, faults=[{"severity": "major"}])
    expect(422, body_of(a.sign(pl)), a.token, pl["report_id"], ["fault 1 has no code"], "a fault without a code")
    # Another signed report under the stored report id.
    pl = variant(jws, report_id=rid, faults=[])
    expect(422, body_of(a.sign(pl)), a.token, rid, ["already stored with other contents"],
           "another report under a stored id")
    # The Idempotency-Key must be the report's id.
    expect(422, body_of(jws2), a.token, rid, ["Idempotency-Key " + rid], "Idempotency-Key of another report")
    expect(400, body_of(jws2), a.token, None, ["Idempotency-Key"], "no Idempotency-Key")
    # Bodies that are not a case.
    expect(400, "not json", a.token, rid2, ["the body is not"], "body not JSON")
    expect(400, '{"report":%s}' % jws2, a.token, rid2, ["the body is not"], "body without case")
    expect(400, '{"case":{},"report":%s,"report":%s}' % (jws2, jws2), a.token, rid2, ["the body is not"],
           "duplicate keys")
    check(count("reports") == 1, "a refused request stored something: %d reports" % count("reports"))
    # Methods and paths.
    c = fleet.conn()
    c.request("GET", "/cases")
    r = c.getresponse()
    ans = json.loads(r.read())
    check(r.status == 405 and r.getheader("Allow") == "POST" and not ans["ok"], "GET /cases: %d %s" % (r.status, ans))
    c.close()
    st, ans, _ = fleet.get("/nope")
    check(st == 404 and not ans["ok"], "GET /nope: %d" % st)
    # The good report now; then b revoked: its token refused, its reports kept.
    expect(201, body_of(jws2), a.token, rid2, [], "a's second report")
    jb = b.run("smc-14", now - datetime.timedelta(days=3))
    ridb = payload_of(jb)["report_id"]
    expect(201, body_of(jb), b.token, ridb, [], "b's report")
    rc, out, err = fleet.cli("bench", "revoke", "bench-b")
    check(rc == 0 and "revoked" in out, "bench revoke: %d %s %s" % (rc, out, err))
    jb2 = b.run("smc-14", now - datetime.timedelta(days=1))
    expect(401, body_of(jb2), b.token, payload_of(jb2)["report_id"], ["bench-b was revoked"], "revoked bench")
    expect(401, body_of(jb), b.token, ridb, ["revoked"], "a revoked bench's retry")
    rc, out, err = fleet.cli("bench", "revoke", "bench-b")
    check(rc == 2 and "already revoked" in err, "revoke twice: %d %s" % (rc, err))
    rc, out, err = fleet.cli("bench", "revoke", "nobody", json_out=True)
    check(rc == 2 and out["ok"] is False and "no bench 'nobody'" in out["error"], "revoke unknown: %d %s" % (rc, out))
    rc, out, err = fleet.cli("bench", "add", "bench-a", "--jwk", a.jwk_path)
    check(rc == 2 and "already registered" in err, "add twice: %d %s" % (rc, err))
    # b comes back with a new key: the old token stays refused, the new one works.
    old = b.token
    shutil.rmtree(b.state)
    b2 = BenchKey(work, "bench-b")
    fleet.register(b2)
    check(b2.token != old, "re-registration kept the token")
    expect(401, body_of(jb2), old, payload_of(jb2)["report_id"], ["unknown token"], "the old token of a re-added bench")
    jb3 = b2.run("smc-14", now - datetime.timedelta(days=1))
    expect(201, body_of(jb3), b2.token, payload_of(jb3)["report_id"], [], "the re-added bench's report")
    # Keys that are not a bench's.
    bad = os.path.join(work, "bad.jwk")
    for text, words in (('{"kty":"RSA","n":"x","e":"AQAB"}', "not an Ed25519 JWK"),
                        ('{"kty":"OKP","crv":"Ed25519","x":"%s","kid":"wrong"}' % a.jwk["x"], "kid is not"),
                        ("nope", "not a JWK")):
        with open(bad, "w") as f:
            f.write(text)
        rc, out, err = fleet.cli("bench", "add", "bench-c", "--jwk", bad)
        check(rc == 2 and words in err, "bench add with %s: %d %s" % (text, rc, err))
    rc, out, err = fleet.cli("bench", "add", "bad id!", "--jwk", a.jwk_path)
    check(rc == 2 and "not a bench id" in err, "bench add with a bad id: %d %s" % (rc, err))
    check(count("reports") == 4, "%d reports stored, want 4" % count("reports"))
    check(psql("SELECT count(*) FROM benches WHERE token_sha256 = sha256('%s'::bytea)" % b2.token) == [["1"]],
          "the token's SHA-256 is not what is stored")
    check(psql("SELECT count(*) FROM benches b WHERE b::text LIKE '%%%s%%'" % b2.token) == [["0"]],
          "the token itself is stored")
    text = fleet.stop()
    check("refused (422)" in text and "refused (401)" in text, "benchfleet did not log the refusals")


def t_benchd(work):
    """The real benchd uploads to benchfleet with its generic upload, over HTTPS."""
    tb.A = argparse.Namespace(bin=A.bin)
    ca, cert, key = tb.make_ca_and_cert(work)
    fleet = Fleet(work, tls=(cert, key))
    fleet.tls_ca = ca
    fleet.start()
    check(fleet.scheme == "https", "benchfleet with tls_cert does not say https")
    # Plain HTTP to the HTTPS port gets no case in.
    try:
        c = http.client.HTTPConnection("127.0.0.1", fleet.port, timeout=5)
        c.request("GET", "/api/trends")
        st = c.getresponse().status
        check(st >= 400, "plain HTTP on the HTTPS port answered %d" % st)
    except (http.client.HTTPException, OSError):
        pass
    token_path = os.path.join(work, "fleet.token")
    bench = tb.Bench(work, name="shop", upload_url="https://127.0.0.1:%d" % fleet.port, token_file=token_path)
    with open(bench.conf) as f:
        conf = f.read().replace("[upload]\n", "[upload]\nca_file = %s\n" % ca).replace(
            "retry_max_seconds = 4", "retry_max_seconds = 2")
    with open(bench.conf, "w") as f:
        f.write(conf)
    bk = BenchKey(work, "bench-test", state=bench.state)
    fleet.register(bk)
    with open(token_path, "w") as f:
        f.write(bk.token + "\n")
    # Reports signed earlier by benchctl on this bench (benchd adopts them at start).
    now = now_utc()
    for i, (snap, days) in enumerate((("worn-battery-11", 20), ("thermal-loop-12", 13), ("smc-14", 6))):
        bk.run(snap, now - datetime.timedelta(days=days), "T-%d" % i)
    profiles = tb.clone_profiles(work, 8)
    emu = tb.Emu(work, profiles[:4])
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    bench.start()
    wait_for("three reports in the fleet", lambda: count("reports") >= 3, 60, 0.1)
    r = subprocess.run(["pg_ctlcluster", "15", "regress", "stop", "-m", "fast"], capture_output=True, text=True)
    check(r.returncode == 0, "pg_ctlcluster stop: " + r.stderr)
    log("PostgreSQL stopped with %s" % "some reports in")
    for udid, pdir in profiles[4:]:
        out = emu.cmd("attach " + pdir)
        check(out.startswith("ok"), "emulator attach: " + out)

    def refused_503():
        ob = bench.outbox()
        return any(i.get("last_status") == 503 and i["state"] == "pending" for i in ob["items"]) and ob

    wait_for("benchd to be told 503", refused_503, 60, 0.2)
    time.sleep(2)
    r = subprocess.run(["pg_ctlcluster", "15", "regress", "start"], capture_output=True, text=True)
    check(r.returncode == 0, "pg_ctlcluster start: " + r.stderr)
    log("PostgreSQL started again")
    total = 3 + len(profiles)
    ob = wait_for("every report delivered", lambda: (lambda o: o["counts"]["delivered"] == total and o)(bench.outbox()),
                  90, 0.3)
    check(ob["counts"]["pending"] == 0 and ob["counts"]["held"] == 0, "outbox %s" % ob["counts"])
    ids = {i["report_id"] for i in ob["items"]}
    rows = psql("SELECT report_id, jws FROM reports")
    check({r[0] for r in rows} == ids and len(rows) == total,
          "the fleet has %d reports, the bench delivered %d (%s)" % (len(rows), total, ids ^ {r[0] for r in rows}))
    for rid, jws in rows:
        with open(os.path.join(bench.state, "reports", rid + ".jws.json")) as f:
            check(f.read().strip() == jws, "report %s not stored byte for byte" % rid)
    retried = [i for i in ob["items"] if i["attempts"] > 1]
    check(retried, "no upload was retried across the outage")
    log("%d reports delivered once each, %d after retries" % (total, len(retried)))
    text = fleet.text()
    check("(503)" in text, "benchfleet did not log the 503s")
    models = {r[0] for r in psql("SELECT DISTINCT model FROM cases")}
    check({"iPhone 11", "iPhone 15 Pro", "iPhone 14", "iPhone 12"} <= models, "models %s" % models)
    bench.stop()
    emu.stop()
    fleet.stop()


def t_api(work):
    """A batch problem on the iPhone 14 (PAN-020 from 4 % to 32 %) raises an alert; the iPhone 11,
    steady, does not."""
    fleet = Fleet(work).start()
    bk = BenchKey(work, "shop-1")
    fleet.register(bk)
    at = now_utc()
    t14 = bk.run("smc-14", at - datetime.timedelta(days=30))
    t11 = bk.run("worn-battery-11", at - datetime.timedelta(days=30))
    pan = {"code": "PAN-020", "severity": "major", "part": "battery connector"}
    bat = {"code": "BAT-001", "severity": "major", "part": "battery"}
    reports = []
    rnd = random.Random(9)
    # 8 baseline weeks (days 8-62 before `at`) and the recent week (days 0.5-6.5), 25 cases each.
    for week in range(9):
        for i in range(25):
            if week < 8:
                t = at - datetime.timedelta(days=8 + week * 7, hours=rnd.randint(0, 140))
            else:
                t = at - datetime.timedelta(hours=12 + rnd.randint(0, 144))
            n14 = 8 if week == 8 else 1
            reports.append(variant(t14, created_at=rfc3339(t), faults=[pan] if i < n14 else [],
                                   case={"ticket": None}))
            reports.append(variant(t11, created_at=rfc3339(t), faults=[bat] if i < 8 else [], case={"ticket": None}))
    signed = [bk.sign(p) for p in reports]

    def send(jws):
        st, ans, _ = fleet.post(body_of(jws), bk.token, payload_of(jws)["report_id"])
        check(st == 201, "post: %d %s" % (st, ans))

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        list(ex.map(send, signed))
    ats = rfc3339(at)
    rc, doc, err = fleet.cli("alerts", "--at", ats, json_out=True)
    check(rc == 0 and doc["ok"], "alerts: %d %s" % (rc, err))
    want_p = fisher_greater(8, 25, 8, 200)
    check(len(doc["rows"]) == 1, "alerts rows %s" % doc["rows"])
    r = doc["rows"][0]
    check(r["product_type"] == "iPhone14,7" and r["model"] == "iPhone 14" and r["code"] == "PAN-020" and
          r["recent_cases"] == 25 and r["recent_with_code"] == 8 and abs(r["recent_rate"] - 0.32) < 1e-9 and
          r["baseline_cases"] == 200 and r["baseline_with_code"] == 8 and abs(r["baseline_rate"] - 0.04) < 1e-9,
          "alert row %s" % r)
    check(abs(r["p_value"] - want_p) <= 1e-5 * want_p, "p_value %g, exact %g" % (r["p_value"], want_p))
    check(set(r) == {"product_type", "model", "code", "recent_cases", "recent_with_code", "recent_rate",
                     "baseline_cases", "baseline_with_code", "baseline_rate", "p_value"}, "alert fields %s" % sorted(r))
    log("alert: %s" % r)
    rc, out, err = fleet.cli("alerts", "--at", ats)
    check(rc == 0 and "iPhone 14 (iPhone14,7) PAN-020: 8 of 25 cases" in out and "p = " in out, "alerts text:\n" + out)
    log("alerts (text): " + out.strip())
    # A week earlier the iPhone 14 was steady: no alert.
    rc, doc2, err = fleet.cli("alerts", "--at", rfc3339(at - datetime.timedelta(days=7)), json_out=True)
    check(rc == 0 and doc2["rows"] == [], "alerts a week earlier: %s" % doc2)
    rc, out, err = fleet.cli("alerts", "--at", rfc3339(at - datetime.timedelta(days=7)))
    check(rc == 0 and out.startswith("no alerts"), "no-alert text: %s" % out)
    # The API gives the same documents.
    from urllib.parse import quote
    st, api, _ = fleet.get("/api/alerts?at=" + quote(ats))
    check(st == 200 and api == doc, "GET /api/alerts differs from alerts --json:\n%s\n%s" % (api, doc))
    rc, tdoc, err = fleet.cli("trends", "--weeks", "10", "--model", "iPhone 14", "--at", ats, json_out=True)
    st, tapi, resp = fleet.get("/api/trends?weeks=10&model=iPhone%%2014&at=%s" % quote(ats))
    check(st == 200 and tapi == tdoc and len(tdoc["rows"]) >= 9, "GET /api/trends differs:\n%s\n%s" % (tapi, tdoc))
    check(resp.getheader("Content-Type") == "application/json" and resp.getheader("X-Content-Type-Options") == "nosniff",
          "API headers %s" % resp.getheaders())
    payloads = [("shop-1", payload_of(j)) for j in signed]
    same_rows(tdoc["rows"], expected_trends(payloads, at, 10, model="iPhone 14"), "trends of the alert data")
    for path, words in (("/api/trends?weeks=0", "weeks"), ("/api/trends?at=yesterday", "at must be"),
                        ("/api/alerts?at=2026-13-45", "at must be")):
        st, ans, _ = fleet.get(path)
        check(st == 400 and words in ans["error"], "%s: %d %s" % (path, st, ans))
    c = fleet.conn()
    c.request("POST", "/api/alerts", body="{}")
    r = c.getresponse()
    check(r.status == 405 and r.getheader("Allow") == "GET", "POST /api/alerts: %d" % r.status)
    c.close()
    fleet.stop()
    # With [http] api_token_file the API needs that bearer token.
    tok = os.path.join(work, "api.token")
    with open(tok, "w") as f:
        f.write("dashboard-secret\n")
    fleet2 = Fleet(work, http_extra="api_token_file = %s\n" % tok, name="fleet-api").start()
    st, ans, _ = fleet2.get("/api/alerts")
    check(st == 401 and "api_token_file" in ans["error"], "API without the token: %d %s" % (st, ans))
    st, ans, _ = fleet2.get("/api/alerts", {"Authorization": "Bearer wrong"})
    check(st == 401, "API with a wrong token: %d" % st)
    st, ans, _ = fleet2.get("/api/alerts?at=" + quote(ats), {"Authorization": "Bearer dashboard-secret"})
    check(st == 200 and ans == doc, "API with the token: %d %s" % (st, ans))
    fleet2.stop()


def t_schema(work):
    fleet = Fleet(work)
    # Two commands on a fresh database at once: one migrates, the other waits for it.
    procs = [subprocess.Popen([os.path.join(A.bin, "benchfleet"), "bench", "list", "--json", "--config", fleet.conf],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        check(p.returncode == 0 and json.loads(out) == {"ok": True, "benches": []}, "bench list: %s %s" % (out, err))
    check(sum("migrated to schema version 1" in err for _, err in outs) == 1,
          "migration messages: %s" % [e for _, e in outs])
    check(psql("SELECT version FROM benchfleet_schema") == [["1"]], "schema version")
    rc, out, err = fleet.cli("bench", "list")
    check(rc == 0 and "no bench registered yet" in out and "migrated" not in err, "second open: %s %s" % (out, err))
    psql("UPDATE benchfleet_schema SET version = 99")
    for args in (("trends",), ("bench", "list")):
        rc, out, err = fleet.cli(*args)
        check(rc == 1 and "schema version 99 is newer than this benchfleet knows (1)" in err, "%s: %d %s" % (args, rc, err))
    p = subprocess.run([os.path.join(A.bin, "benchfleet"), "serve", "--config", fleet.conf], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 1 and "newer than this benchfleet" in p.stderr, "serve on a newer schema: %d %s" %
          (p.returncode, p.stderr))
    psql("UPDATE benchfleet_schema SET version = 1")
    # PostgreSQL unreachable: a port nobody listens on.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    bad = os.path.join(work, "bad.conf")
    with open(bad, "w") as f:
        f.write("[db]\nconninfo = host=127.0.0.1 port=%d dbname=x connect_timeout=3\n" % port)
    rc, out, err = fleet.cli("trends", "--config", bad, conf=False)
    check(rc == 1 and "cannot reach PostgreSQL" in err and "[db] conninfo" in err and "\n" not in err.strip(),
          "unreachable: %d %s" % (rc, err))
    rc, out, err = fleet.cli("alerts", "--config", bad, "--json", conf=False)
    out = json.loads(out)
    check(rc == 1 and out["ok"] is False and "cannot reach PostgreSQL" in out["error"], "unreachable --json: %s" % out)
    # --check-config and configuration errors.
    rc, out, err = fleet.cli("--check-config")
    check(rc == 0 and out == "configuration OK\n", "--check-config: %d %r" % (rc, out))
    with open(bad, "w") as f:
        f.write("[http]\nlisten = 127.0.0.1:8471\nthreads = lots\n")
    rc, out, err = fleet.cli("--check-config", "--config", bad, conf=False)
    check(rc == 1 and out == "%s line 3: threads must be a whole number from 1 to 64, not 'lots'\n" % bad,
          "--check-config on a bad file: %d %r" % (rc, out))
    rc, out, err = fleet.cli("serve", "--config", bad, conf=False)
    check(rc == 2 and "line 3" in err, "serve with a bad file: %d %s" % (rc, err))
    for args, words in ((("frobnicate",), "unknown command 'frobnicate'"), (("trends", "--jwk", "x"), "does not take --jwk"),
                        (("trends", "--weeks", "0"), "--weeks must be"), (("alerts", "--code", "X"), "does not take --code"),
                        (("bench", "add", "x"), "bench add needs --jwk"), (("bench",), "usage: benchfleet bench"),
                        (("trends", "--at", "soon"), "--at soon")):
        rc, out, err = fleet.cli(*args)
        check(rc == 2 and words in err, "%s: %d %s" % (args, rc, err))
    rc, out, err = fleet.cli(conf=False)
    check(rc == 2 and "usage: benchfleet" in err, "no command: %d" % rc)
    rc, out, err = fleet.cli("--help", conf=False)
    check(rc == 0 and "bench add ID --jwk FILE" in out and "alerts" in out, "--help: %s" % out)
    # Listening where another program listens already.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    with open(bad, "w") as f:
        f.write("[http]\nlisten = 127.0.0.1:%d\n" % s.getsockname()[1])
    p = subprocess.run([os.path.join(A.bin, "benchfleet"), "serve", "--config", bad], capture_output=True, text=True,
                       timeout=30)
    s.close()
    check(p.returncode == 1 and "another program listens there" in p.stderr, "port in use: %d %s" % (p.returncode, p.stderr))


def t_limits(work):
    fleet = Fleet(work, http_extra="timeout_seconds = 3\nmax_connections = 3\nthreads = 1\n").start()

    def closed_within(sock, seconds, trickle=None):
        """Seconds until the server closes sock (sending `trickle` bytes every 0.4 s meanwhile)."""
        t0 = time.time()
        sock.settimeout(0.4)
        while time.time() - t0 < seconds:
            try:
                if trickle:
                    sock.sendall(trickle)
                if sock.recv(4096) == b"":
                    return time.time() - t0
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return time.time() - t0
        return None

    # A client that trickles its body one byte at a time is dropped after timeout_seconds.
    s = socket.create_connection(("127.0.0.1", fleet.port))
    s.sendall(b"POST /cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\nContent-Length: 100000\r\n\r\n")
    t = closed_within(s, 10, trickle=b"{")
    check(t is not None and t < 6, "a trickling client was kept %s s" % t)
    s.close()
    log("trickling client dropped after %.1f s" % t)
    # An idle one too.
    s = socket.create_connection(("127.0.0.1", fleet.port))
    t = closed_within(s, 10)
    check(t is not None and t < 6, "an idle client was kept %s s" % t)
    s.close()
    # At most max_connections at once: while three are held, a fourth waits unserved (libmicrohttpd
    # stops accepting at the limit); when they go, it is served.
    held = [socket.create_connection(("127.0.0.1", fleet.port)) for _ in range(3)]
    time.sleep(0.3)
    s = socket.create_connection(("127.0.0.1", fleet.port))
    s.sendall(b"GET /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(1.0)
    try:
        early = s.recv(4096)
    except socket.timeout:
        early = None
    check(early is None, "a connection past max_connections was served at once: %r" % early)
    for h in held:
        h.close()
    s.settimeout(5)
    late = s.recv(4096)
    check(late.startswith(b"HTTP/1.1 200"), "the waiting connection was not served after the others left: %r" % late[:100])
    s.close()
    # Bodies over the cap: refused on Content-Length before reading, and when they arrive chunked.
    s = socket.create_connection(("127.0.0.1", fleet.port))
    s.sendall(b"POST /cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\nContent-Length: 9437185\r\n\r\n")
    s.settimeout(5)
    head = s.recv(4096).decode()
    check(head.startswith("HTTP/1.1 413") and "9 MiB" in head, "Content-Length over the cap: %r" % head[:200])
    s.close()
    c = fleet.conn()
    chunk = b"x" * (1 << 20)
    c.putrequest("POST", "/cases")
    c.putheader("Transfer-Encoding", "chunked")
    c.putheader("Authorization", "Bearer x")
    c.putheader("Idempotency-Key", "x")
    c.endheaders()
    try:
        for _ in range(10):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        st = r.status
        body = r.read().decode()
    except (BrokenPipeError, ConnectionResetError):
        st, body = None, ""
    check(st == 413 and "9 MiB" in body, "10 MiB chunked: %s %s" % (st, body[:200]))
    c.close()
    # A body just under the cap is read and refused for what it is, not its size.
    st, ans, _ = fleet.post(b"x" * ((9 << 20) - 10), "0" * 64, "k")
    check(st == 400, "9 MiB - 10 bytes of garbage: %d %s" % (st, ans))
    fleet.stop()


def t_targets(work):
    """benchd's two targets: [upload] (a generic booking receiver) and [fleet] (benchfleet over
    HTTPS), each with its own outbox rows. benchfleet is killed mid-delivery and comes back a
    little later; meanwhile a ticket linked to a delivered case makes revision 2. Every final
    report reaches each target once."""
    tb.A = argparse.Namespace(bin=A.bin)
    ca, cert, key = tb.make_ca_and_cert(work)
    fleet = Fleet(work, tls=(cert, key))
    fleet.tls_ca = ca
    fleet.start()
    rx = tb.Receiver(work, token="booking-token")
    bench = tb.Bench(work, name="shop", upload_url=rx.url, token_file=tb.write_token(work, "booking-token\n"))
    fleet_token = os.path.join(work, "fleet.token")
    with open(bench.conf) as f:
        conf = f.read().replace("retry_max_seconds = 4", "retry_max_seconds = 2")
    with open(bench.conf, "w") as f:
        f.write(conf + "\n[fleet]\nurl = https://127.0.0.1:%d\ntoken_file = %s\nca_file = %s\n" %
                (fleet.port, fleet_token, ca))
    bk = BenchKey(work, "bench-test", state=bench.state)
    fleet.register(bk)
    with open(fleet_token, "w") as f:
        f.write(bk.token + "\n")
    profiles = tb.clone_profiles(work, 7, names=("worn-battery-11", "healthy-15pro", "thermal-loop-12", "smc-14"))
    emu = tb.Emu(work, profiles[:4])
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    bench.start()

    def by_target():
        out = {"upload": {}, "fleet": {}}
        for i in bench.outbox()["items"]:
            out[i["target"]][i["report_id"]] = i
        return out

    wait_for("two reports in the fleet", lambda: count("reports") >= 2, 60, 0.05)
    fleet.proc.p.kill()  # an outage: benchfleet gone without a word, mid-delivery
    fleet.proc.p.wait()
    log("benchfleet killed after %d reports" % count("reports"))
    for udid, pdir in profiles[4:]:
        check(emu.cmd("attach " + pdir).startswith("ok"), "emulator attach")
    wait_for("the booking receiver to have all 7", lambda: len(rx.accepted()) == 7, 90, 0.2)
    # A ticket for a case already delivered (to the booking system at least): revision 2.
    udid0 = profiles[0][0]
    rc, out, err = bench.ctl("link", udid0, "T-900", json_out=True)
    check(rc == 0 and out["revision"] == 2 and out["final"], "benchctl link: %d %s %s" % (rc, out, err))
    rev2 = out["report_id"]
    wait_for("benchd's fleet uploads to fail while benchfleet is away",
             lambda: any(i["attempts"] >= 1 and i["state"] == "pending" for i in by_target()["fleet"].values()), 30, 0.2)
    time.sleep(2)
    port = fleet.port
    with open(fleet.conf) as f:
        conf = f.read().replace("listen = 127.0.0.1:0", "listen = 127.0.0.1:%d" % port)
    with open(fleet.conf, "w") as f:
        f.write(conf)
    fleet.start()  # back where the bench expects it
    check(fleet.port == port, "benchfleet came back on port %d, not %d" % (fleet.port, port))

    def settled():
        t = by_target()
        ok = all(len(t[n]) == 8 and all(i["state"] == "delivered" for i in t[n].values()) for n in t)
        return ok and t

    t = wait_for("every final report delivered to both targets", settled, 90, 0.3)
    check(set(t["upload"]) == set(t["fleet"]) and rev2 in t["fleet"], "the targets got different reports")
    check(rx.accepted() == set(t["upload"]), "the booking receiver's cases differ from the outbox")
    per_key = {}
    for r in rx.requests():
        per_key[r["key"]] = per_key.get(r["key"], 0) + 1
    check(all(n == 1 for n in per_key.values()), "a report was posted twice to the booking receiver: %s" % per_key)
    rows = psql("SELECT report_id, jws FROM reports")
    check({r[0] for r in rows} == set(t["fleet"]) and len(rows) == 8, "the fleet has %s" % [r[0] for r in rows])
    for rid, jws in rows:
        with open(os.path.join(bench.state, "reports", rid + ".jws.json")) as f:
            check(f.read().strip() == jws, "report %s not stored byte for byte" % rid)
    retried = [i for i in t["fleet"].values() if i["attempts"] > 1]
    check(retried, "no fleet upload crossed the outage")
    # The case counts once, at its latest revision, with the ticket; revision 1 stays as evidence.
    cid = payload_of(rows[[r[0] for r in rows].index(rev2)][1])["case"]["case_id"]
    check(psql("SELECT revision, report_id FROM cases WHERE case_id = '%s'" % cid) == [["2", rev2]],
          "case %s: %s" % (cid, psql("SELECT revision, report_id FROM cases WHERE case_id = '%s'" % cid)))
    check(psql("SELECT count(*), max(ticket) FROM reports WHERE case_id = '%s'" % cid) == [["2", "T-900"]],
          "the case's two revisions")
    check(count("cases") == 7, "%d cases in the fleet, want 7 (one per phone)" % count("cases"))
    rc, st, err = bench.ctl("status", json_out=True)
    targets = {x["target"]: x for x in st["targets"]}
    check(targets["fleet"]["delivered"] == 8 and targets["upload"]["delivered"] == 8 and
          targets["fleet"]["url"].startswith("https://"), "benchctl status targets %s" % st["targets"])
    log("8 final reports (7 phones, one case revised) delivered once to each target; %d fleet uploads "
        "crossed the outage" % len(retried))
    bench.stop()
    emu.stop()
    rx.stop()
    fleet.stop()


TESTS = {"targets": t_targets, "ingest": t_ingest, "refusals": t_refusals, "benchd": t_benchd, "api": t_api, "schema": t_schema,
         "limits": t_limits}


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--work", default="")
    p.add_argument("test", choices=sorted(TESTS))
    A = p.parse_args()
    if not os.environ.get("PGHOST") or not os.environ.get("PGPORT"):
        print("FAIL: no PostgreSQL: run me through tests/fleet/with_pg")
        return 1
    if not os.path.exists(os.path.join(A.bin, "benchfleet")):
        print("FAIL: benchfleet is not built in " + A.bin)
        return 1
    work = A.work or tempfile.mkdtemp(prefix="fleet-test-")
    os.makedirs(work, exist_ok=True)
    try:
        TESTS[A.test](work)
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
        if not A.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
