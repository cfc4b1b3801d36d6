#!/usr/bin/env python3
"""The customer's page in a real browser (issue 18 item 6): headless Chromium prints the customer
view of a report with four faults and a battery trend to exactly ONE A4 page in en, it, fr and zh
(pdfinfo counts the pages), and so do a worn battery in zh and an unfinished check in fr; it also
renders the page to a non-empty PNG in en and zh (the CJK font). With BENCHD_KEEP_RENDERS=DIR the
PNGs and PDFs are kept there, to look at. Skips (exit 77) with the reason when chromium or pdfinfo
is missing (scripts/packages/reports.test.txt and render.test.txt list them)."""
import os
import re
import shutil
import subprocess
import tempfile

from common import FIXTURES, TempDir, check, finish, run

os.environ["TZ"] = "Europe/Rome"
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
pdfinfo = shutil.which("pdfinfo")
if chromium is None or pdfinfo is None:
    print("SKIP: %s is not installed (apt-get install %s) - the print check needs it" %
          (("chromium", "chromium") if chromium is None else ("pdfinfo", "poppler-utils")))
    raise SystemExit(77)
keep = os.environ.get("BENCHD_KEEP_RENDERS")


def browser(tmp, html, *args):
    profile = tempfile.mkdtemp(dir=tmp)
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           "--user-data-dir=" + profile] + list(args) + ["file://" + html],
                          capture_output=True, timeout=90)


with TempDir() as tmp:
    out_dir = keep or tmp
    os.makedirs(out_dir, exist_ok=True)
    conf = os.path.join(tmp, "benchd.conf")
    open(conf, "w", encoding="utf-8").write(
        "[shop]\nname = Riparazioni Rossi\ncontact = Via Roma 12, 20121 Milano · 02 1234 5678\n")
    pages = [("trend", lang) for lang in ("en", "it", "fr", "zh")] + [("worn", "zh"), ("waiting", "fr")]
    for name, lang in pages:
        html = os.path.join(out_dir, "customer-%s.%s.html" % (name, lang))
        rc, out, err = run(["--lang", lang, "report", "show", os.path.join(FIXTURES, "view-%s.jws.json" % name),
                            "--view", "customer", "--format", "html", "--key", os.path.join(FIXTURES, "rfc8037.jwk"),
                            "--trees-dir", FIXTURES, "--config", conf, "--out", html], "/nonexistent-state")
        check(rc == 0, "render the customer page of %s in %s (%s)" % (name, lang, err.strip()))
        pdf = html[:-5] + ".pdf"
        p = browser(tmp, html, "--no-pdf-header-footer", "--print-to-pdf=" + pdf)
        info = subprocess.run([pdfinfo, pdf], capture_output=True, text=True).stdout if os.path.exists(pdf) else ""
        n = re.search(r"^Pages:\s+(\d+)", info, re.M)
        size = re.search(r"^Page size:.*\((\w+)\)", info, re.M)
        check(n is not None and n.group(1) == "1" and size is not None and size.group(1) == "A4",
              "chromium prints the customer page of %s in %s on one A4 page (%s pages, %s)" %
              (name, lang, n.group(1) if n else "no", size.group(1) if size else "no size"))
        if n is None:
            print(p.stderr.decode(errors="replace")[-2000:])
        if name != "trend" or lang not in ("en", "zh"):
            continue
        png = html[:-5] + ".png"
        p = browser(tmp, html, "--window-size=900,1300", "--screenshot=" + png)
        ok = os.path.exists(png) and os.path.getsize(png) > 10000 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        check(ok, "chromium renders the %s page to a non-empty PNG (%d bytes)" %
              (lang, os.path.getsize(png) if os.path.exists(png) else 0))
        if not ok:
            print(p.stderr.decode(errors="replace")[-2000:])
    if keep:
        print("renders kept in %s" % keep)

finish()
