#!/usr/bin/env python3
"""The customer's HTML page renders in headless Chromium to a non-empty PNG, in every language.
Skips (exit 77) with a clear message when chromium is not installed (scripts/packages/reports.test.txt
lists it)."""
import os
import shutil
import subprocess
import tempfile

from common import FIXTURES, TempDir, check, finish, run

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if chromium is None:
    print("SKIP: chromium is not installed (apt-get install chromium) - the HTML render check needs it")
    raise SystemExit(77)

with TempDir() as tmp:
    for lang in ("en", "zh"):
        html = os.path.join(tmp, "report.%s.html" % lang)
        png = os.path.join(tmp, "report.%s.png" % lang)
        rc, out, err = run(["--lang", lang, "report", "show", os.path.join(FIXTURES, "report.jws.json"),
                            "--format", "html", "--key", os.path.join(FIXTURES, "rfc8037.jwk"),
                            "--trees-dir", FIXTURES, "--out", html], "/nonexistent-state")
        check(rc == 0, "render html %s" % lang)
        profile = tempfile.mkdtemp(dir=tmp)
        p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            "--no-first-run", "--user-data-dir=" + profile, "--window-size=900,1400",
                            "--screenshot=" + png, "file://" + html], capture_output=True, timeout=90)
        ok = os.path.exists(png) and os.path.getsize(png) > 10000
        if ok:
            with open(png, "rb") as f:
                ok = f.read(8) == b"\x89PNG\r\n\x1a\n"
        check(ok, "chromium renders the %s page to a non-empty PNG (%d bytes)" %
              (lang, os.path.getsize(png) if os.path.exists(png) else 0))
        if not ok:
            print(p.stderr.decode(errors="replace")[-2000:])
        if lang != "en":
            continue
        # Printable: the print stylesheet gives a PDF (A4 via @page).
        pdf = os.path.join(tmp, "report.pdf")
        profile = tempfile.mkdtemp(dir=tmp)
        p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            "--no-first-run", "--user-data-dir=" + profile, "--no-pdf-header-footer",
                            "--print-to-pdf=" + pdf, "file://" + html], capture_output=True, timeout=90)
        ok = os.path.exists(pdf) and os.path.getsize(pdf) > 2000 and open(pdf, "rb").read(5) == b"%PDF-"
        check(ok, "chromium prints the page to a PDF (%d bytes)" % (os.path.getsize(pdf) if os.path.exists(pdf) else 0))
        if not ok:
            print(p.stderr.decode(errors="replace")[-2000:])

finish()
