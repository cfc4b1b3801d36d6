#!/usr/bin/env python3
"""fleet/: the systemd unit verifies (systemd-analyze verify) and stays hardened (security
--offline), the sysusers file makes the benchfleet user, the example configuration passes
--check-config, and `cmake --install` puts the unit, the user, the example and /etc's
configuration where they belong (kept when it exists).

  test_unit.py SOURCE_DIR BUILD_DIR CONFIGURED_UNIT BENCHFLEET
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

src, build, unit, benchfleet = sys.argv[1:5]
fails = []
text = open(unit).read()
for key in ("Type=notify", "User=benchfleet", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
            "CapabilityBoundingSet=\n", "--check-config", " serve", "After=network-online.target postgresql.service"):
    if key not in text:
        fails.append("the unit lacks %r" % key.strip())
if shutil.which("systemd-analyze"):
    d = tempfile.mkdtemp()
    try:
        exe = re.search(r"ExecStart=(\S+)", text).group(1)
        p = os.path.join(d, "benchfleet.service")
        with open(p, "w") as f:
            f.write(text.replace(exe, benchfleet))
        r = subprocess.run(["systemd-analyze", "verify", p], capture_output=True, text=True)
        if r.returncode != 0:
            fails.append("systemd-analyze verify: " + r.stderr.strip())
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", p], capture_output=True, text=True)
        m = re.search(r"Overall exposure level for benchfleet.service: ([0-9.]+)", r.stdout)
        if not m or float(m.group(1)) > 2.0:
            fails.append("systemd-analyze security: exposure %s (want <= 2.0)" % (m.group(1) if m else r.stdout[-300:]))
        else:
            print("systemd-analyze security: exposure %s" % m.group(1))
    finally:
        shutil.rmtree(d)
else:
    print("note: no systemd-analyze: unit not verified")

if shutil.which("systemd-sysusers"):
    root = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(root, "etc"))
        r = subprocess.run(["systemd-sysusers", "--root=" + root, os.path.join(src, "fleet", "benchfleet.sysusers.conf")],
                           capture_output=True, text=True)
        passwd = open(os.path.join(root, "etc", "passwd")).read() if r.returncode == 0 else ""
        if not re.search(r"^benchfleet:", passwd, re.M):
            fails.append("systemd-sysusers did not make the benchfleet user: " + r.stderr.strip())
    finally:
        shutil.rmtree(root)

r = subprocess.run([benchfleet, "--config", os.path.join(src, "fleet", "benchfleet.conf.example"), "--check-config"],
                   capture_output=True, text=True)
if r.returncode != 0 or r.stdout != "configuration OK\n":
    fails.append("the example configuration: %s %s" % (r.stdout, r.stderr))

dest = tempfile.mkdtemp()
try:
    r = subprocess.run(["cmake", "--install", build, "--component", "Unspecified"], capture_output=True, text=True,
                       env=dict(os.environ, DESTDIR=dest))
    if r.returncode != 0:
        fails.append("cmake --install: " + r.stderr[-500:])
    found = {os.path.relpath(os.path.join(dp, f), dest) for dp, _, fs in os.walk(dest) for f in fs}
    for want in ("benchfleet.service", "sysusers.d/benchfleet.conf", "benchfleet/benchfleet.conf.example",
                 "benchfleet/benchfleet.conf", "bin/benchfleet"):
        if not any(f.endswith(want) for f in found):
            fails.append("cmake --install did not install %s" % want)
    conf = [f for f in found if f.endswith("benchfleet/benchfleet.conf")]
    if conf:
        with open(os.path.join(dest, conf[0]), "w") as f:
            f.write("[db]\nconninfo = kept\n")
        subprocess.run(["cmake", "--install", build], capture_output=True, env=dict(os.environ, DESTDIR=dest))
        if open(os.path.join(dest, conf[0])).read() != "[db]\nconninfo = kept\n":
            fails.append("a second install overwrote benchfleet.conf")
finally:
    shutil.rmtree(dest)

for f in fails:
    print("FAIL: " + f)
print("PASS" if not fails else "%d failure(s)" % len(fails))
sys.exit(1 if fails else 0)
