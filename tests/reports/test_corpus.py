#!/usr/bin/env python3
"""Every tree test case of diag-trees/tests (and of its subfolders, e.g. the real-log corpus real/) through the whole command-line path: benchctl run
--snapshot (with the case's --tree and --answer) writes a signed report whose outcome and fault
codes are the ones the case expects, the report verifies, and its HTML page (languages in turn)
is well-formed. Recorded emulator snapshots are also replayed from the stored copy."""
import base64
import collections
import glob
import json
import os
import xml.etree.ElementTree as ET

from common import TempDir, check, finish, run

SOURCE = os.environ["SOURCE_DIR"]
TESTS = os.path.join(SOURCE, "diag-trees", "tests")
LANGS = ["en", "it", "fr", "zh"]


def payload(path):
    s = json.load(open(path))["payload"]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


with TempDir() as tmp:
    state = os.path.join(tmp, "state")
    n = 0
    cases = sorted(glob.glob(os.path.join(TESTS, "*.json")) + glob.glob(os.path.join(TESTS, "*", "*.json")))
    for i, case in enumerate(cases):
        name = os.path.relpath(case, TESTS)
        d = json.load(open(case, encoding="utf-8"))
        if os.path.dirname(name) and isinstance(d, dict) and "schema" in d and "expect" not in d:
            continue  # a snapshot kept for another case's snapshot_file (trees test skips it too)
        if "snapshot_file" in d:
            snap = os.path.join(TESTS, d["snapshot_file"])
        else:
            snap = os.path.join(tmp, name.replace(os.sep, "-"))
            with open(snap, "w", encoding="utf-8") as f:
                json.dump(d["snapshot"], f)
        doc = json.load(open(snap, encoding="utf-8"))
        args = ["--json", "run", "--snapshot", snap]
        for t in d.get("trees") or []:
            args += ["--tree", t]
        for k, v in (d.get("answers") or {}).items():
            args += ["--answer", "%s=%s" % (k, v)]
        rc, out, err = run(args, state)
        if not isinstance(doc, dict) or doc.get("schema") != "benchd.snapshot/1":
            check(rc == 1 and len(err.strip().splitlines()) == 1, "%s: not a snapshot, refused with one line" % name)
            continue
        if not check(rc == 0, "%s: run exits 0 (%s)" % (name, err.strip())):
            continue
        n += 1
        s = json.loads(out)
        rep = payload(s["report_path"])
        exp = d.get("expect", {})
        want = collections.Counter(f["code"] for f in exp.get("faults", []))
        got = collections.Counter(f["code"] for f in rep["faults"])
        # every case names its outcome (trees test refuses one that does not): compare with it,
        # never with the report's own outcome
        check("outcome" in exp, "%s: the case names the outcome it expects" % name)
        check(rep["outcome"] == exp.get("outcome") and want == got,
              "%s: outcome %s and faults %s as the case expects (%s, %s)" %
              (name, rep["outcome"], sorted(got.elements()), exp.get("outcome"), sorted(want.elements())))
        rc, _, err = run(["report", "verify", s["report_path"]], state)
        check(rc == 0, "%s: the report verifies" % name)
        lang = LANGS[i % 4]
        rc, page, err = run(["--lang", lang, "report", "show", s["report_path"], "--format", "html"], state)
        try:
            ET.fromstring(page.split("\n", 1)[1])
            ok = rc == 0
        except (ET.ParseError, IndexError) as ex:
            ok = False
            print(ex)
        check(ok, "%s: the %s page is well-formed" % (name, lang))
        leaks = [w for w in ("DOMAIN.md", "iFixit", "sha256", "benchctl", "source=", "confidence=") if w in page]
        check(not leaks, "%s: the %s customer page shows no internals (%s)" % (name, lang, leaks))
        if os.path.basename(name).startswith("recorded-"):
            args[3] = s["snapshot_path"]
            rc, out2, err = run(args, state)
            rep2 = payload(json.loads(out2)["report_path"]) if rc == 0 else {}
            check(rc == 0 and rep2.get("faults") == rep["faults"] and rep2.get("trace") == rep["trace"],
                  "%s: replaying the stored snapshot gives the same faults and trace" % name)
    check(n >= 90, "ran %d tree test cases through benchctl run (the real-log corpus included)" % n)
    check(sum(1 for c in cases if os.sep + "real" + os.sep in c) >= 25, "the real-log corpus has at least 25 cases")

finish()
