#!/usr/bin/env python3
"""Golden renders: fixed reports (fixed report_id and created_at, signed with the RFC 8037 key, so
every byte is reproducible) shown in en, it, fr and zh must match the files in golden/:
  report.<lang>.{txt,html}                   an older report (no texts, no case id): technician view
  view-trend.<lang>.<view>.{txt,html}        four faults and a battery trend: both views
The HTML must be well-formed (parsed as XML), self-contained (no external asset), carry the
catalogue's texts in its language, the SVG gauge, and (technician view) the key id and how to
verify. Times are local: the tests run with TZ=Europe/Rome.
Regenerate after an intended change with UPDATE_GOLDEN=1 (then review the diff)."""
import glob
import json
import os
import re
import xml.etree.ElementTree as ET

from common import FIXTURES, GOLDEN, TempDir, check, finish, run, tool

os.environ["TZ"] = "Europe/Rome"
update = os.environ.get("UPDATE_GOLDEN") == "1"
jwk = os.path.join(FIXTURES, "rfc8037.jwk")

# Every fixture JWS is exactly what our signer makes of its .json (Ed25519 is deterministic).
for jws in sorted(glob.glob(os.path.join(FIXTURES, "*.jws.json"))):
    signed = tool("sign-fixed", jws[: -len(".jws.json")] + ".json")
    check(signed == open(jws, "rb").read(), "%s is byte-exact what the signer makes of its .json" %
          os.path.basename(jws))

catalogue = json.load(open(os.path.join(FIXTURES, "catalogue.json"), encoding="utf-8"))


def golden(name, out):
    path = os.path.join(GOLDEN, name)
    if update:
        open(path, "w", encoding="utf-8").write(out)
    want = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    check(out == want, "render matches golden/%s" % name)


def wellformed(out, what):
    try:
        ET.fromstring(out.split("\n", 1)[1])  # after <!DOCTYPE html>
        ok = True
    except ET.ParseError as ex:
        ok = False
        print(ex)
    check(out.startswith("<!DOCTYPE html>") and ok, "%s is well-formed" % what)
    check(not re.search(r'\b(src|href)\s*=|url\(|@import|<link|<script', out, re.I),
          "%s has no external asset or script" % what)


with TempDir() as tmp:
    conf = os.path.join(tmp, "benchd.conf")
    open(conf, "w", encoding="utf-8").write(
        "[shop]\nname = Riparazioni Rossi\ncontact = Via Roma 12, 20121 Milano · 02 1234 5678\n")

    # The older report: the technician view, as text and HTML.
    jws = os.path.join(FIXTURES, "report.jws.json")
    codes = [f["code"] for f in json.load(open(os.path.join(FIXTURES, "report.json")))["faults"]]
    for lang in ("en", "it", "fr", "zh"):
        for fmt, ext in (("text", "txt"), ("html", "html")):
            rc, out, err = run(["--lang", lang, "report", "show", jws, "--format", fmt, "--view", "technician",
                                "--key", jwk, "--trees-dir", FIXTURES], "/nonexistent-state")
            check(rc == 0, "show %s %s exits 0 (%s)" % (fmt, lang, err.strip()))
            golden("report.%s.%s" % (lang, ext), out)
            for code in codes:
                e = catalogue["codes"][code]
                check(e["title"][lang] in out, "%s %s shows the %s title of %s" % (fmt, lang, lang, code))
            if fmt != "html":
                continue
            wellformed(out, "html %s" % lang)
            check('<html lang="%s">' % lang in out, "html %s declares its language" % lang)
            for code in codes:
                cust = catalogue["codes"][code]["customer"][lang].replace("&", "&amp;").replace("'", "&#39;")
                check(cust in out, "html %s has the customer text of %s" % (lang, code))
            check("<svg" in out and "76%" in out, "html %s draws the battery gauge with 76%%" % lang)
            check("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" in out and "benchctl report verify" in out,
                  "html %s shows the key id and how to verify" % lang)
            check("@media print" in out, "html %s has a print stylesheet" % lang)
            check("&lt;b&gt;&amp;&lt;/b&gt;" in out and "<b>&" not in out, "html %s escapes report strings" % lang)

    # Four faults and a trend, in both views.
    jws = os.path.join(FIXTURES, "view-trend.jws.json")
    for lang in ("en", "it", "fr", "zh"):
        for view in ("customer", "technician"):
            for fmt, ext in (("text", "txt"), ("html", "html")):
                rc, out, err = run(["--lang", lang, "report", "show", jws, "--format", fmt, "--view", view,
                                    "--key", jwk, "--trees-dir", FIXTURES, "--config", conf], "/nonexistent-state")
                check(rc == 0 and err == "", "show %s %s %s exits 0 quietly (%s)" % (view, fmt, lang, err.strip()))
                golden("view-trend.%s.%s.%s" % (lang, view, ext), out)
                if fmt == "html":
                    wellformed(out, "%s html %s" % (view, lang))

finish()
