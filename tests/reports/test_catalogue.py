#!/usr/bin/env python3
"""The renderers against the real fault catalogue (diag-trees/catalogue.json): a report holding
every catalogued code, shown in en, it, fr and zh, carries each code's title, action and customer
text in that language in the technician view, and each code's customer text (never its title,
action or evidence) in the customer view; the pages stay well-formed. The render-related sections
hold together: every part a code or the model table names is in the `parts` glossary in four
languages, and `customer_parts` names only known parts and codes, in four languages."""
import html
import json
import os
import xml.etree.ElementTree as ET

from common import FIXTURES, TempDir, check, finish, run, tool

SOURCE = os.environ["SOURCE_DIR"]
full = json.load(open(os.path.join(SOURCE, "diag-trees", "catalogue.json"), encoding="utf-8"))
cat = full["codes"]
models = json.load(open(os.path.join(SOURCE, "diag-trees", "models.json"), encoding="utf-8"))["models"]
LANGS = ("en", "it", "fr", "zh")


def four(v):
    return isinstance(v, dict) and all(isinstance(v.get(lang), str) and v[lang] for lang in LANGS)


# A code with no part to replace has "part": null and the reason in part_note (CONTRACTS 1); the
# pages show it through the glossary's "none (<part_note>)", so that name must be there too.
nopart = {c: e for c, e in cat.items() if e["part"] is None}
check(all(isinstance(e.get("part_note"), str) and e["part_note"] for e in nopart.values()),
      "every code with a null part gives part_note")
check(not [c for c, e in cat.items() if isinstance(e["part"], str) and e["part"].startswith("none")],
      "no code names a part called 'none ...' (null and part_note instead)")
named = {e["part"] if isinstance(e["part"], str) else e["part"]["en"] for e in cat.values() if e["part"] is not None}
named |= {"none (%s)" % e["part_note"] for e in nopart.values()}
for m in models.values():
    named |= set((m.get("i2c_buses") or {}).values())
    named |= {v for k, v in m.items() if k.endswith("_part") and isinstance(v, str)}
    arr = m.get("smc_sensor_array") or []
    for v in (arr.values() if isinstance(arr, dict) else arr):
        if isinstance(v, dict) and isinstance(v.get("part"), str):
            named.add(v["part"])
missing = sorted(p for p in named if not four(full["parts"].get(p)))
check(not missing, "every part the catalogue and the model table name is in `parts` in four languages (%s)" % missing)
cp = full["customer_parts"]
check(all(k in full["parts"] and four(v) for k, v in cp["names"].items()),
      "customer_parts.names: known parts, four languages each")
check(all(p in full["parts"] for p in cp["to_check_parts"] + cp["no_part"]) and
      all(c in cat for c in cp["to_check_codes"]), "customer_parts lists only known parts and codes")



def wellformed(page, what):
    try:
        ET.fromstring(page.split("\n", 1)[1])
        ok = True
    except (ET.ParseError, IndexError) as ex:
        ok = False
        print(ex)
    check(ok, "%s is well-formed" % what)


with TempDir() as tmp:
    faults = [dict({"code": c, "severity": e["severity"],
                    "part": e["part"] if isinstance(e["part"], str) or e["part"] is None else e["part"]["en"],
                    "title": e["title"]["en"], "evidence": {"test": True}, "tree": "t", "node": "n"},
                   **({"part_note": e["part_note"]} if e["part"] is None else {}))
              for c, e in sorted(cat.items())]
    eng = os.path.join(tmp, "engine.json")
    json.dump({"faults": faults, "trace": [], "trees": [], "outcome": "fail"}, open(eng, "w"))
    rep = os.path.join(tmp, "report.json")
    open(rep, "wb").write(tool("build", os.path.join(FIXTURES, "snapshot.json"), eng,
                               "00000000-0000-4000-8000-000000000000", "2026-11-22T10:00:00Z"))
    jws = os.path.join(tmp, "report.jws.json")
    open(jws, "wb").write(tool("sign-fixed", rep))
    for lang in ("en", "it", "fr", "zh"):
        rc, out, err = run(["--lang", lang, "report", "show", jws, "--format", "html", "--view", "technician", "--key",
                            os.path.join(FIXTURES, "rfc8037.jwk")], "/nonexistent-state")
        check(rc == 0, "html %s renders (%s)" % (lang, err.strip()))
        missing = [c for c, e in cat.items() if html.escape(e["customer"][lang], quote=True).replace("&#x27;", "&#39;") not in out
                   or html.escape(e["title"][lang], quote=True).replace("&#x27;", "&#39;") not in out]
        check(not missing, "html %s has every code's %s title and customer text (missing: %s)" % (lang, lang, missing))
        wellformed(out, "html %s with every code" % lang)
        rc, page, err = run(["--lang", lang, "report", "show", jws, "--format", "html", "--view", "customer",
                             "--key", os.path.join(FIXTURES, "rfc8037.jwk")], "/nonexistent-state")
        esc = lambda t: html.escape(t, quote=True).replace("&#x27;", "&#39;")
        missing = [c for c, e in cat.items() if esc(e["customer"][lang]) not in page]
        check(rc == 0 and not missing, "customer html %s has every code's customer text (missing: %s)" % (lang, missing))
        shown = [c for c in cat if c in page] + [w for w in ("test=", "t/n") if w in page]
        check(not shown, "customer html %s shows no code, evidence or tree (%s)" % (lang, shown))
        wellformed(page, "customer html %s with every code" % lang)
        rc, out, err = run(["--lang", lang, "report", "show", jws, "--key", os.path.join(FIXTURES, "rfc8037.jwk")],
                           "/nonexistent-state")
        missing = [c for c, e in cat.items() if e["action"][lang] not in out]
        check(rc == 0 and not missing, "text %s has every code's %s action (missing: %s)" % (lang, lang, missing))
        notes = [c for c, e in nopart.items() if full["parts"]["none (%s)" % e["part_note"]][lang] not in out]
        check(not notes, "text %s says why there is no part to replace, in %s (missing: %s)" % (lang, lang, notes))

finish()
