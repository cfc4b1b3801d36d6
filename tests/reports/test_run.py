#!/usr/bin/env python3
"""benchctl run --snapshot end to end through the real engine and trees: a signed report and the
exact snapshot land in the state directory, the report verifies, the faults are the expected ones,
replaying the stored snapshot gives the same faults and trace, technician questions are listed with
how to answer them and answers change the outcome, and every failure has a one-line reason and its
exit code."""
import hashlib
import json
import os
import shutil

from common import FIXTURES, TempDir, check, finish, run

SOURCE = os.environ["SOURCE_DIR"]
TREES = os.path.join(SOURCE, "diag-trees")
snapfile = os.path.join(FIXTURES, "snapshot.json")


def unb64(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def payload(path):
    return json.loads(unb64(json.load(open(path))["payload"]))


def codes(report):
    return sorted(f["code"] for f in report["faults"])


with TempDir() as tmp:
    state = os.path.join(tmp, "state")
    out = os.path.join(tmp, "copy.jws.json")
    rc, so, se = run(["--json", "run", "--snapshot", snapfile, "--tree", "battery", "--ticket", "T-77",
                      "--out", out, "--trees-dir", TREES], state)
    check(rc == 0, "run --snapshot exits 0 (%s)" % se.strip())
    check("created the bench signing key" in se, "the first run creates the key and says so on stderr")
    summary = json.loads(so)
    rp, sp = summary["report_path"], summary["snapshot_path"]
    check(os.path.dirname(rp) == os.path.join(state, "reports") and
          rp.endswith(summary["report_id"] + ".jws.json") and sp.endswith(summary["report_id"] + ".snapshot.json"),
          "report and snapshot are <state>/reports/<report_id>.{jws,snapshot}.json")
    check(open(sp, "rb").read() == open(snapfile, "rb").read(), "the stored snapshot is the exact input bytes")
    check(open(out, "rb").read() == open(rp, "rb").read(), "--out holds the same signed bytes")
    rc, so2, se2 = run(["report", "verify", rp], state)
    check(rc == 0, "the report verifies with the bench key")
    rep = payload(rp)
    check(codes(rep) == ["BAT-001", "BAT-002"], "battery tree: BAT-001 (76 %%) and BAT-002 (812 cycles on an iPhone 11), got %s" % codes(rep))
    check(rep["outcome"] == "fail" and summary["outcome"] == "fail", "outcome fail")
    check(rep["snapshot_sha256"] == hashlib.sha256(open(snapfile, "rb").read()).hexdigest(),
          "snapshot_sha256 is the SHA-256 of the exact snapshot bytes")
    check(rep["case"] == {"case_id": None, "ticket": "T-77", "revision": None, "supersedes": None, "lang": None},
          "case: the ticket, and no case fields outside benchd (%s)" % rep["case"])
    check([t["name"] for t in rep["trees"]] == ["battery"] and len(rep["trees"][0]["sha256"]) == 64 and
          rep["trees"][0]["sha256"] == hashlib.sha256(open(os.path.join(TREES, "battery.lua"), "rb").read()).hexdigest(),
          "trees lists battery with the sha256 of battery.lua")
    check(len(rep["trace"]) > 0 and all("node" in n for n in rep["trace"]), "the trace lists visited nodes")
    for k in ("schema", "report_id", "created_at", "bench", "device", "readings", "faults", "trace", "trees",
              "outcome", "snapshot_sha256", "case"):
        check(k in rep, "report has %s" % k)
    check(rep["bench"]["key_id"] == summary["kid"] and rep["device"]["udid"] == "00008030-001A35E21A05802E",
          "bench.key_id and device from the snapshot")

    rc, so2, se2 = run(["report", "verify", summary["report_id"]], state)
    check(rc == 0 and "valid" in so2, "report verify takes a report id from the state directory")

    # Replay the stored snapshot: same faults and trace, a new report.
    rc, so3, se3 = run(["--json", "run", "--snapshot", sp, "--tree", "battery", "--trees-dir", TREES], state)
    check(rc == 0 and "created the bench signing key" not in se3, "replay of the stored snapshot")
    rep2 = payload(json.loads(so3)["report_path"])
    check(rep2["faults"] == rep["faults"] and rep2["trace"] == rep["trace"] and rep2["trees"] == rep["trees"],
          "replay gives byte-identical faults, trace and trees")
    check(rep2["report_id"] != rep["report_id"] and rep2["snapshot_sha256"] == rep["snapshot_sha256"],
          "replay is a new report over the same snapshot")

    # All trees (default directory) include the battery faults.
    rc, so4, se4 = run(["run", "--snapshot", snapfile], state)
    check(rc == 0 and "BAT-001" in so4 and "report:" in so4 and "benchctl report show" in so4,
          "run with every tree prints a short summary with where the report is")

    # Technician questions, with a tree of our own in a copy of the trees directory.
    tdir = os.path.join(tmp, "trees")
    os.makedirs(tdir)
    for f in ("catalogue.json", "models.json", "syslog-rules.txt"):
        if os.path.exists(os.path.join(TREES, f)):
            shutil.copy(os.path.join(TREES, f), tdir)
    open(os.path.join(tdir, "asker.lua"), "w").write(
        'tree{ name = "asker", version = "1", probes = { "battery" } }\n'
        'local a = ask{ key = "swollen", text = { en = "Is the battery swollen?", it = "La batteria e gonfia?",'
        ' fr = "La batterie est-elle gonflee ?", zh = "电池鼓包了吗？" } }\n'
        'if a == "yes" then fault("BAT-001", { swollen = a }) end\n')
    rc, so5, se5 = run(["run", "--snapshot", snapfile, "--trees-dir", tdir], state)
    check(rc == 0 and "incomplete" in so5 and "--answer swollen=yes|no" in so5,
          "an unanswered question: outcome incomplete, and how to answer it")
    rc, so6, se6 = run(["--json", "run", "--snapshot", snapfile, "--trees-dir", tdir, "--answer", "swollen=yes"], state)
    s6 = json.loads(so6)
    rep6 = payload(s6["report_path"])
    check(rc == 0 and s6["outcome"] == "fail" and rep6["answers"] == {"swollen": "yes"} and
          "BAT-001" in codes(rep6), "--answer swollen=yes answers it: the fault and the answer are in the report")
    before = sorted(os.listdir(os.path.join(state, "reports")))
    rc, so7, se7 = run(["run", "--snapshot", snapfile, "--trees-dir", tdir, "--answer", "swollen=maybe"], state)
    check(rc == 2 and "swollen: 'maybe' is not one of the choices: yes, no" in se7,
          "an invalid choice is refused (exit 2) with the valid ones (%d: %s)" % (rc, se7.strip()))
    rc, so8, se8 = run(["run", "--snapshot", snapfile, "--trees-dir", tdir, "--answer", "swolen=yes"], state)
    check(rc == 2 and "no tree asks 'swolen'" in se8 and "swollen" in se8,
          "an unknown answer key is refused (exit 2) naming the keys the trees ask (%d: %s)" % (rc, se8.strip()))
    check(sorted(os.listdir(os.path.join(state, "reports"))) == before, "a refused --answer writes nothing")

    # benchd's configuration file: bench id and trees as the daemon would sign them.
    cfg = os.path.join(tmp, "benchd.conf")
    open(cfg, "w").write("[bench]\nid = bench-42\ntrees = battery\n")
    rc, so, se = run(["--json", "run", "--snapshot", snapfile, "--config", cfg, "--trees-dir", TREES], state)
    rc_ = payload(json.loads(so)["report_path"]) if rc == 0 else {}
    check(rc == 0 and rc_["bench"]["id"] == "bench-42" and [t["name"] for t in rc_["trees"]] == ["battery"],
          "--config: bench id and trees from benchd's configuration")
    rc, so, se = run(["--json", "run", "--snapshot", snapfile, "--config", cfg, "--bench-id", "b-9", "--tree", "system",
                      "--trees-dir", TREES], state)
    rc_ = payload(json.loads(so)["report_path"]) if rc == 0 else {}
    check(rc == 0 and rc_["bench"]["id"] == "b-9" and [t["name"] for t in rc_["trees"]] == ["system"],
          "--config: options on the command line win")
    badcfg = os.path.join(tmp, "bad.conf")
    open(badcfg, "w").write("[bench]\nidd = x\n")

    # Failures: one line on stderr, the right exit code, no report.
    before = len(os.listdir(os.path.join(state, "reports")))
    notjson = os.path.join(tmp, "bad.json")
    open(notjson, "w").write("{ not json")
    notsnap = os.path.join(tmp, "notsnap.json")
    open(notsnap, "w").write('{"schema":"something/else"}')
    cases = [
        (["run"], 2, "exactly one of --udid UDID or --snapshot FILE"),
        (["run", "--snapshot", snapfile, "--udid", "x"], 2, "exactly one of"),
        (["run", "--snapshot", snapfile, "--answer", "novalue"], 2, "--answer takes KEY=VALUE"),
        (["run", "--snapshot", snapfile, "--syslog-seconds", "-3"], 2, "--syslog-seconds takes 0 to 600"),
        (["run", "--snapshot", os.path.join(tmp, "absent.json")], 1, "cannot read snapshot"),
        (["run", "--snapshot", notjson], 1, "the snapshot is not JSON"),
        (["run", "--snapshot", notsnap], 1, "not a benchd.snapshot/1 document"),
        (["run", "--snapshot", snapfile, "--tree", "no-such-tree"], 1, "no-such-tree"),
        (["run", "--snapshot", snapfile, "--trees-dir", os.path.join(tmp, "nowhere")], 1, "nowhere"),
        (["run", "--snapshot", snapfile, "--config", badcfg], 1, "line 2: unknown key 'idd'"),
    ]
    for args, code, reason in cases:
        rc, so8, se8 = run(args, state)
        check(rc == code and reason in se8 and len(se8.strip().splitlines()) == 1,
              "%s: exit %d '%s' (got %d: %s)" % (" ".join(args[1:]) or "no source", code, reason, rc, se8.strip()))
    check(len(os.listdir(os.path.join(state, "reports"))) == before, "failed runs write no report")
    rc, so9, se9 = run(["run", "--snapshot", snapfile, "--no-key-init"], os.path.join(tmp, "fresh"))
    check(rc == 1 and "benchctl key init" in se9, "--no-key-init without a key: a clear error")
    check(not os.path.exists(os.path.join(tmp, "fresh", "bench-key.pem")), "--no-key-init made no key")

    # A per-model part named by a tree (PAN-020 on an iPhone 14: 0x100000 is the charge port)
    # is what the text and HTML tell the technician and customer, not the catalogue's generic one.
    smc = os.path.join(TREES, "tests", "recorded", "smc-14.json")
    rc, so10, se10 = run(["--json", "run", "--snapshot", smc, "--tree", "panics"], state)
    rp10 = json.loads(so10)["report_path"] if rc == 0 else None
    check(rc == 0, "run on the recorded iPhone 14 SMC snapshot (%s)" % se10.strip())
    # ... in the page's language, from the catalogue's parts glossary.
    for lang, part, plain in (("en", "charge-port assembly", "Charging port"),
                              ("it", "gruppo porta di ricarica", "Porta di ricarica"), ("zh", "充电口组件", "充电口")):
        for fmt in ("text", "html"):
            rc, shown, _ = run(["--lang", lang, "report", "show", rp10, "--format", fmt, "--view", "technician"], state)
            check(rc == 0 and part in shown and "see the model table" not in shown and
                  "tabella dei modelli" not in shown,
                  "report show %s %s names PAN-020's per-model part (%s)" % (fmt, lang, part))
            rc, shown, _ = run(["--lang", lang, "report", "show", rp10, "--format", fmt, "--view", "customer"], state)
            check(rc == 0 and plain in shown and "see the model table" not in shown and
                  "tabella dei modelli" not in shown,
                  "the customer view %s %s names it in plain words (%s)" % (fmt, lang, plain))
    rc, shown, _ = run(["--lang", "fr", "report", "show", rp10, "--format", "text"], state)
    check(rc == 0 and "ensemble du port de charge" in shown,
          "report show text fr translates the part names")

finish()
