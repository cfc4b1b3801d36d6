#!/usr/bin/env python3
"""The renderers against the real fault catalogue (diag-trees/catalogue.json): a report holding
every catalogued code, shown in en, it, fr and zh, carries each code's title, action and customer
text in that language, and the page stays well-formed."""
import html
import json
import os
import xml.etree.ElementTree as ET

from common import FIXTURES, TempDir, check, finish, run, tool

SOURCE = os.environ["SOURCE_DIR"]
cat = json.load(open(os.path.join(SOURCE, "diag-trees", "catalogue.json"), encoding="utf-8"))["codes"]

with TempDir() as tmp:
    faults = [{"code": c, "severity": e["severity"], "part": e["part"] if isinstance(e["part"], str) else e["part"]["en"],
               "title": e["title"]["en"], "evidence": {"test": True}, "tree": "t", "node": "n"}
              for c, e in sorted(cat.items())]
    eng = os.path.join(tmp, "engine.json")
    json.dump({"faults": faults, "trace": [], "trees": [], "outcome": "fail"}, open(eng, "w"))
    rep = os.path.join(tmp, "report.json")
    open(rep, "wb").write(tool("build", os.path.join(FIXTURES, "snapshot.json"), eng,
                               "00000000-0000-4000-8000-000000000000", "2026-11-22T10:00:00Z"))
    jws = os.path.join(tmp, "report.jws.json")
    open(jws, "wb").write(tool("sign-fixed", rep))
    for lang in ("en", "it", "fr", "zh"):
        rc, out, err = run(["--lang", lang, "report", "show", jws, "--format", "html", "--key",
                            os.path.join(FIXTURES, "rfc8037.jwk")], "/nonexistent-state")
        check(rc == 0, "html %s renders (%s)" % (lang, err.strip()))
        missing = [c for c, e in cat.items() if html.escape(e["customer"][lang], quote=True).replace("&#x27;", "&#39;") not in out
                   or html.escape(e["title"][lang], quote=True).replace("&#x27;", "&#39;") not in out]
        check(not missing, "html %s has every code's %s title and customer text (missing: %s)" % (lang, lang, missing))
        try:
            ET.fromstring(out.split("\n", 1)[1])
            ok = True
        except ET.ParseError as ex:
            ok = False
            print(ex)
        check(ok, "html %s with every code is well-formed" % lang)
        rc, out, err = run(["--lang", lang, "report", "show", jws, "--key", os.path.join(FIXTURES, "rfc8037.jwk")],
                           "/nonexistent-state")
        missing = [c for c, e in cat.items() if e["action"][lang] not in out]
        check(rc == 0 and not missing, "text %s has every code's %s action (missing: %s)" % (lang, lang, missing))

finish()
