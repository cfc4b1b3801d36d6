#!/usr/bin/env python3
"""benchfleet benchmark (DESIGN.md 4.12, 5): ingest from many benches at once, then the analytics
at a million stored reports. Prints a table on stderr and, as the last line of stdout, one JSON
object. Runs inside a throw-away PostgreSQL 15 cluster (it starts one with tests/fleet/with_pg
when PGHOST is not set) with fsync and synchronous_commit ON, as a real server would.

  tests/bench/fleet_bench.py --bin BUILD/bin [--benches 20] [--cases 500] [--reports 1000000]
                             [--runs 5] [--threads N] [--phase all|ingest|analytics] [--smoke]

(1) ingest: --benches benches registered with `benchfleet bench add`, each with its own Ed25519
    key; --cases signed reports per bench made from benchctl's own reports of four recorded
    snapshots (about 7 KB each: new report_id, created_at spread over 8 weeks), signed here with
    the bench's key. One process per bench sends its reports one after another, each on a new
    connection (as benchd's outbox does), all benches starting at once against `benchfleet
    serve`. ingest/s = reports / (last answer - first request); latency per request p50/p95/max;
    benchfleet's peak resident memory (VmHWM). Every answer must be 201 and every report stored
    once, or the run fails.
(2) analytics: --reports cases generated with SQL (reports, faults and the cases table, 30
    models, 18 codes at 2-12 %, created over a year and stored in time order as they would
    arrive; no JWS text kept in those generated rows,
    which the analytics never read), ANALYZE, then `benchfleet trends --json` (8 weeks),
    `trends --weeks 52 --json` and `alerts --json` as whole commands, --runs times each: median.
    Table and index sizes from PostgreSQL. The generated data is steady (each code at one rate
    for every model, all year), so `alerts --at` at --fa-points weekly points measures the false
    alarms of the whole path: alerts / (model, code) pairs with at least 5 recent cases.

--smoke: 2 benches x 20 cases, 10,000 generated reports, 1 run: checks the instruments, says
nothing about speed. Figures need a Release build:
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2
  tests/bench/fleet_bench.py --bin build-bench/bin
Exit 0 when every phase completed, 1 otherwise (the reason on stderr), 77 without PostgreSQL.
"""

import argparse
import base64
import datetime
import hashlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
RECORDED = os.path.join(TOP, "diag-trees", "tests", "recorded")
SNAPSHOTS = ("worn-battery-11", "healthy-15pro", "smc-14", "thermal-loop-12")
A = None


class Fail(Exception):
    pass


def say(msg):
    print("fleet-bench: " + msg, file=sys.stderr, flush=True)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def psql(sql):
    r = subprocess.run(["psql", "-AtX", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-c", sql], capture_output=True,
                       text=True, timeout=3600)
    if r.returncode != 0:
        raise Fail("psql: %s" % r.stderr.strip())
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def fleet(*args, conf):
    r = subprocess.run([os.path.join(A.bin, "benchfleet")] + list(args) + ["--config", conf], capture_output=True,
                       text=True, timeout=3600)
    if r.returncode != 0:
        raise Fail("benchfleet %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def templates(work):
    """benchctl's signed reports of the recorded snapshots: their payloads."""
    env = dict(os.environ, BENCHD_STATE_DIR=os.path.join(work, "tmpl-state"))
    out = []
    for s in SNAPSHOTS:
        r = subprocess.run([os.path.join(A.bin, "benchctl"), "run", "--snapshot", os.path.join(RECORDED, s + ".json")],
                           capture_output=True, text=True, env=env, timeout=120)
        m = re.search(r"^report:\s+(\S+)$", r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise Fail("benchctl run %s: %s" % (s, r.stderr))
        with open(m.group(1)) as f:
            j = json.load(f)
        out.append(json.loads(base64.urlsafe_b64decode(j["payload"] + "=" * (-len(j["payload"]) % 4))))
    return out


class Key:
    def __init__(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        self.k = Ed25519PrivateKey.generate()
        x = b64u(self.k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        self.jwk = {"crv": "Ed25519", "kty": "OKP", "x": x}
        self.kid = b64u(hashlib.sha256(json.dumps(self.jwk, separators=(",", ":"), sort_keys=True).encode()).digest())

    def sign(self, payload):
        protected = b64u(json.dumps({"alg": "EdDSA", "kid": self.kid, "typ": "benchd-report+json"},
                                    separators=(",", ":")).encode())
        pl = b64u(json.dumps(payload, separators=(",", ":")).encode())
        sig = b64u(self.k.sign((protected + "." + pl).encode()))
        return '{"protected":"%s","payload":"%s","signature":"%s"}' % (protected, pl, sig)


def body(p, jws):
    d = p["device"]
    case = {"ticket": None, "bench_id": p["bench"]["id"],
            "device": {k: d.get(k) for k in ("udid", "serial", "product_type", "model_name")},
            "outcome": p["outcome"], "faults": [{k: f.get(k) for k in ("code", "severity", "part")} for f in p["faults"]]}
    return ('{"case":%s,"report":%s}' % (json.dumps(case, separators=(",", ":")), jws)).encode()


def client(port, items, start, q):
    """One bench: its reports one after another, a new connection each (like benchd's outbox)."""
    start.wait()
    lat, bad = [], []
    t_first = time.time()
    for rid, token, data in items:
        t0 = time.time()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", "/cases", body=data, headers={"Authorization": "Bearer " + token, "Idempotency-Key": rid,
                                                         "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        lat.append(time.time() - t0)
        if r.status != 201:
            bad.append((rid, r.status))
    q.put((t_first, time.time(), lat, bad))


def cpu_s(pid, children=False):
    """utime + stime of pid (and of its reaped children), and with children=True of its live
    children too (PostgreSQL's backends are the postmaster's)."""
    tck = os.sysconf("SC_CLK_TCK")

    def one(p, reaped):
        with open("/proc/%d/stat" % p) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12]) + (int(v[13]) + int(v[14]) if reaped else 0)) / tck

    total = one(pid, True)
    if children:
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    if ppid == pid:
                        total += one(int(d), False)
                except (OSError, ValueError, IndexError):
                    pass
    return total


def postmaster_pid():
    with open(os.path.join(psql("SHOW data_directory")[0][0], "postmaster.pid")) as f:
        return int(f.readline())


def vmhwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def ingest(work, conf, res):
    tmpl = templates(work)
    now = datetime.datetime.now(datetime.timezone.utc)
    benches = []
    for b in range(A.benches):
        key = Key()
        bid = "fleet-bench-%02d" % b
        jp = os.path.join(work, bid + ".jwk")
        with open(jp, "w") as f:
            json.dump(key.jwk, f)
        tok = json.loads(fleet("bench", "add", bid, "--jwk", jp, "--json", conf=conf))["token"]
        items = []
        for i in range(A.cases):
            p = dict(tmpl[(b + i) % len(tmpl)])
            p["report_id"] = str(uuid.uuid4())
            p["bench"] = dict(p["bench"], id=bid, key_id=key.kid)
            p["created_at"] = (now - datetime.timedelta(minutes=(i * 7919 + b * 104729) % (56 * 24 * 60))).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            items.append((p["report_id"], tok, body(p, key.sign(p))))
        benches.append(items)
    size = statistics.mean(len(d) for items in benches for _, _, d in items)
    say("%d benches x %d signed reports ready (mean body %.1f KB)" % (A.benches, A.cases, size / 1024))

    log = open(os.path.join(work, "serve.log"), "wb")
    srv = subprocess.Popen([os.path.join(A.bin, "benchfleet"), "serve", "--config", conf], stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(300):
            with open(os.path.join(work, "serve.log")) as f:
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = int(m.group(1))
                break
            if srv.poll() is not None:
                break
            time.sleep(0.05)
        if port is None:
            raise Fail("benchfleet serve did not start: " + open(os.path.join(work, "serve.log")).read())
        ctx = multiprocessing.get_context("fork")
        start, q = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=client, args=(port, items, start, q)) for items in benches]
        for p in procs:
            p.start()
        time.sleep(0.5)
        pm = postmaster_pid()
        cpu0, pg0 = cpu_s(srv.pid), cpu_s(pm, children=True)
        start.set()
        results = [q.get(timeout=3600) for _ in procs]
        for p in procs:
            p.join()
        cpu1, pg1 = cpu_s(srv.pid), cpu_s(pm, children=True)
        mem = vmhwm_mb(srv.pid)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=60)
        log.close()
    bad = [b for r in results for b in r[3]]
    if bad:
        raise Fail("%d requests were not answered 201, e.g. %s" % (len(bad), bad[:5]))
    total = A.benches * A.cases
    stored = int(psql("SELECT count(*) FROM reports")[0][0])
    if stored != total:
        raise Fail("%d reports stored, %d sent" % (stored, total))
    psql("CHECKPOINT")
    per = psql("SELECT pg_total_relation_size('reports') / count(*), pg_total_relation_size('faults') / count(*),"
               " pg_total_relation_size('cases') / count(*) FROM reports")[0]
    lat = sorted(x for r in results for x in r[2])
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    res["ingest"] = {"benches": A.benches, "cases_each": A.cases, "reports": total, "wall_s": round(wall, 3),
                     "per_s": round(total / wall, 1), "p50_ms": round(1000 * lat[len(lat) // 2], 2),
                     "p95_ms": round(1000 * lat[int(len(lat) * 0.95)], 2), "max_ms": round(1000 * lat[-1], 2),
                     "body_kb": round(size / 1024, 1), "benchfleet_vmhwm_mb": round(mem, 1),
                     "benchfleet_cpu_ms_per_report": round(1000 * (cpu1 - cpu0) / total, 3),
                     "postgres_cpu_ms_per_report": round(1000 * (pg1 - pg0) / total, 3),
                     "stored_bytes_per_report": {"reports": int(per[0]), "faults": int(per[1]), "cases": int(per[2])}}


MODELS = [("iPhone%d,%d" % (10 + i // 3, 1 + i % 3), "Model %02d" % i) for i in range(30)]
CODES = ["BAT-001", "BAT-002", "BAT-003", "BAT-004", "BAT-010", "PAN-001", "PAN-010", "PAN-011", "PAN-012",
         "PAN-013", "PAN-020", "PAN-030", "PAN-040", "PAN-041", "PAN-042", "STO-001", "LOG-012", "LOG-013"]


def generate(n):
    models = ",".join("(%d,'%s','%s')" % (i, pt, name) for i, (pt, name) in enumerate(MODELS))
    codes = ",".join("('%s', %.3f)" % (c, 0.02 + 0.10 * ((i * 7) % 18) / 17) for i, c in enumerate(CODES))
    t0 = time.time()
    psql("""
      INSERT INTO benches (bench_id, kid, jwk, token_sha256)
        SELECT 'fleet-bench-' || lpad(b::text, 2, '0'), 'generated', '{}', sha256(('generated ' || b)::bytea)
        FROM generate_series(0, %d - 1) b ON CONFLICT DO NOTHING;
      CREATE TEMP TABLE m (i int, pt text, name text);
      INSERT INTO m VALUES %s;
      CREATE TEMP TABLE codes (code text, p float8);
      INSERT INTO codes VALUES %s;
      CREATE TEMP TABLE gen AS
        SELECT 'gen-' || g AS id, 'fleet-bench-' || lpad((g %% %d)::text, 2, '0') AS bench,
               now() - random() * %d * interval '1 day' AS at, m.pt, m.name,
               ARRAY(SELECT code FROM codes WHERE random() < p + 0 * g ORDER BY code) AS codes
        FROM generate_series(1, %d) g JOIN m ON m.i = g %% 30;
      -- Stored in the order they arrive, as benchfleet stores them (the table grows in time).
      CREATE TEMP TABLE gen_sorted AS SELECT * FROM gen ORDER BY at;
      DROP TABLE gen;
      ALTER TABLE gen_sorted RENAME TO gen;
      INSERT INTO reports (report_id, bench_id, case_id, revision, created_at, product_type, model, outcome,
                           jws_sha256, jws)
        SELECT id, bench, id, 1, at, pt, name, CASE WHEN cardinality(codes) > 0 THEN 'fail' ELSE 'pass' END,
               '\\x00'::bytea, '' FROM gen;
      INSERT INTO faults (report_id, n, code, severity, part)
        SELECT id, u.n, u.c, 'major', 'battery' FROM gen, unnest(codes) WITH ORDINALITY AS u(c, n);
      INSERT INTO cases (bench_id, case_id, report_id, revision, latest_at, opened_at, product_type, model,
                         outcome, codes)
        SELECT bench, id, id, 1, at, at, pt, name, CASE WHEN cardinality(codes) > 0 THEN 'fail' ELSE 'pass' END,
               codes FROM gen;
      ANALYZE;
    """ % (A.benches, models, codes, A.benches, A.days, n))
    return time.time() - t0


def timed(args, conf):
    times = []
    for _ in range(A.runs + 1):
        t0 = time.monotonic()
        out = fleet(*args, conf=conf)
        times.append(time.monotonic() - t0)
    doc = json.loads(out)
    return statistics.median(times[1:]), len(doc["rows"])


def analytics(conf, res):
    gen_s = generate(A.reports)
    total = int(psql("SELECT count(*) FROM reports")[0][0])
    say("generated %d reports with SQL in %.1f s (%d stored in all)" % (A.reports, gen_s, total))
    sizes = dict((r[0], int(r[1])) for r in psql(
        "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname IN ('reports','faults','cases')"))
    out = {"reports": total, "generate_s": round(gen_s, 1),
           "sizes_mb": {k: round(v / 1048576, 1) for k, v in sorted(sizes.items())}}
    for name, args in (("trends_8w", ("trends", "--json")), ("trends_52w", ("trends", "--weeks", "52", "--json")),
                       ("trends_52w_one_model", ("trends", "--weeks", "52", "--model", "Model 07", "--json")),
                       ("alerts", ("alerts", "--json"))):
        med, rows = timed(args, conf)
        out[name] = {"median_s": round(med, 3), "rows": rows}
    # The generated data is steady (each code at one rate, for every model, all year): every
    # alert on it is a false alarm. Evaluate at weekly points back in time.
    now = datetime.datetime.now(datetime.timezone.utc)
    alarms = pairs = 0
    for k in range(A.fa_points):
        at = (now - datetime.timedelta(days=7 * k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if k * 7 + 63 > A.days:
            break
        alarms += len(json.loads(fleet("alerts", "--at", at, "--json", conf=conf))["rows"])
        pairs += int(psql(
            "SELECT count(*) FROM (SELECT 1 FROM cases, unnest(codes) c WHERE opened_at > '%s'::timestamptz - "
            "interval '7 days' AND opened_at <= '%s' GROUP BY product_type, model, c HAVING count(*) >= 5) x"
            % (at, at))[0][0])
    out["steady_alerts"] = {"evaluations": pairs, "alerts": alarms,
                            "false_alarm_rate": round(alarms / pairs, 5) if pairs else None}
    res["analytics"] = out


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--benches", type=int, default=20)
    p.add_argument("--cases", type=int, default=500)
    p.add_argument("--reports", type=int, default=1000000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--days", type=int, default=364, help="the generated cases span this many days")
    p.add_argument("--fa-points", type=int, default=20, help="alert evaluations for the false-alarm figure")
    p.add_argument("--threads", type=int, default=0, help="benchfleet's [http] threads (default: its own)")
    p.add_argument("--phase", choices=("all", "ingest", "analytics"), default="all")
    p.add_argument("--smoke", action="store_true")
    A = p.parse_args()
    if not os.environ.get("PGHOST"):
        os.execv(os.path.join(TOP, "tests", "fleet", "with_pg"),
                 [os.path.join(TOP, "tests", "fleet", "with_pg"), sys.executable] + sys.argv)
    if A.smoke:
        A.benches, A.cases, A.reports, A.runs, A.fa_points = 2, 20, 10000, 1, 2
    A.bin = os.path.abspath(A.bin)
    work = tempfile.mkdtemp(prefix="fleet-bench-")
    conf = os.path.join(work, "fleet.conf")
    with open(conf, "w") as f:
        f.write("[http]\nlisten = 127.0.0.1:0\n" + ("threads = %d\n" % A.threads if A.threads else ""))
    res = {}
    try:
        # A real server keeps what it said it stored: pg_virtualenv turns fsync off.
        psql("ALTER SYSTEM SET fsync = %s" % ("off" if os.environ.get("FLEET_BENCH_FSYNC_OFF") else "on"))
        psql("ALTER SYSTEM SET synchronous_commit = on")
        psql("SELECT pg_reload_conf()")
        fleet("bench", "list", conf=conf)  # migrate
        if A.phase != "analytics":
            ingest(work, conf, res)
            i = res["ingest"]
            say("ingest: %d reports from %d benches at once in %.2f s: %.0f/s; latency p50 %.1f ms, p95 %.1f ms, "
                "max %.1f ms; benchfleet VmHWM %.1f MB; CPU per report: benchfleet %.2f ms, PostgreSQL %.2f ms"
                % (i["reports"], i["benches"], i["wall_s"], i["per_s"], i["p50_ms"], i["p95_ms"], i["max_ms"],
                   i["benchfleet_vmhwm_mb"], i["benchfleet_cpu_ms_per_report"], i["postgres_cpu_ms_per_report"]))
            say("stored per report (bytes, tables with their indexes and TOAST): %s" % i["stored_bytes_per_report"])
        if A.phase != "ingest":
            analytics(conf, res)
            for k, v in res["analytics"].items():
                if isinstance(v, dict) and "median_s" in v:
                    say("%-22s %.3f s (median of %d, %d rows) at %d reports" % (k, v["median_s"], A.runs, v["rows"],
                                                                              res["analytics"]["reports"]))
            say("sizes: %s" % res["analytics"]["sizes_mb"])
            fa = res["analytics"]["steady_alerts"]
            say("steady data: %d alerts in %d (model, code) evaluations with >= 5 recent cases (%s)"
                % (fa["alerts"], fa["evaluations"], fa["false_alarm_rate"]))
    except Fail as e:
        say("FAIL: %s" % e)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
