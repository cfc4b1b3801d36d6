#!/usr/bin/env python3
"""Golden renders: a fixed report (fixed report_id and created_at, signed with the RFC 8037 key, so
every byte is reproducible) shown as text and HTML in en, it, fr and zh must match the files in
golden/. The HTML must be well-formed (parsed as XML), self-contained (no external asset), carry the
catalogue's customer text in its language, the SVG gauge, the key id and how to verify.
Regenerate after an intended change with UPDATE_GOLDEN=1 (then review the diff)."""
import json
import os
import re
import xml.etree.ElementTree as ET

from common import FIXTURES, GOLDEN, check, finish, run, tool

update = os.environ.get("UPDATE_GOLDEN") == "1"
jws = os.path.join(FIXTURES, "report.jws.json")
jwk = os.path.join(FIXTURES, "rfc8037.jwk")

# The fixture JWS is exactly what our signer makes of report.json (Ed25519 is deterministic).
signed = tool("sign-fixed", os.path.join(FIXTURES, "report.json"))
check(signed == open(jws, "rb").read(), "report.jws.json is byte-exact what the signer makes of report.json")

catalogue = json.load(open(os.path.join(FIXTURES, "catalogue.json"), encoding="utf-8"))
for lang in ("en", "it", "fr", "zh"):
    for fmt, ext in (("text", "txt"), ("html", "html")):
        rc, out, err = run(["--lang", lang, "report", "show", jws, "--format", fmt, "--key", jwk,
                            "--trees-dir", FIXTURES], "/nonexistent-state")
        check(rc == 0, "show %s %s exits 0 (%s)" % (fmt, lang, err.strip()))
        path = os.path.join(GOLDEN, "report.%s.%s" % (lang, ext))
        if update:
            open(path, "w", encoding="utf-8").write(out)
        want = open(path, encoding="utf-8").read()
        check(out == want, "%s render in %s matches %s" % (fmt, lang, os.path.basename(path)))
        for code, e in catalogue["codes"].items():
            check(e["title"][lang] in out, "%s %s shows the %s title of %s" % (fmt, lang, lang, code))
        if fmt != "html":
            continue
        try:
            ET.fromstring(out.split("\n", 1)[1])  # after <!DOCTYPE html>
            wellformed = True
        except ET.ParseError as ex:
            wellformed = False
            print(ex)
        check(out.startswith("<!DOCTYPE html>") and wellformed, "html %s is well-formed" % lang)
        check(not re.search(r'\b(src|href)\s*=|url\(|@import|<link|<script', out, re.I),
              "html %s has no external asset or script" % lang)
        check('<html lang="%s">' % lang in out, "html %s declares its language" % lang)
        for code, e in catalogue["codes"].items():
            cust = e["customer"][lang].replace("&", "&amp;").replace("'", "&#39;")
            check(cust in out, "html %s has the customer text of %s" % (lang, code))
        check("<svg" in out and "76%" in out, "html %s draws the battery gauge with 76%%" % lang)
        check("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" in out and "benchctl report verify" in out,
              "html %s shows the key id and how to verify" % lang)
        check("@media print" in out, "html %s has a print stylesheet" % lang)
        check("&lt;b&gt;&amp;&lt;/b&gt;" in out and "<b>&" not in out, "html %s escapes report strings" % lang)

finish()
