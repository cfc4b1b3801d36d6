#!/usr/bin/env python3
"""udev/: the sysusers file makes the benchd user and group; the rules give the benchd group every Apple USB mode and nothing else; the systemd unit
verifies (systemd-analyze verify) and stays hardened (systemd-analyze security --offline).

  test_udev.py SOURCE_DIR CONFIGURED_UNIT BENCHD [PART]

PART: rules (the udev rules and the unit's hardening keys: no tool needed), verify (systemd-analyze
verify and security), sysusers (systemd-sysusers makes the user and group). A part whose tool is
missing exits 77 with the reason (the tools come with Debian's systemd package, in
scripts/packages/daemon.test.txt), never a pass that checked nothing.
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

src, unit, benchd = sys.argv[1:4]
part = sys.argv[4] if len(sys.argv) > 4 else "rules"
fails = []


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


if part not in ("rules", "verify", "sysusers"):
    raise SystemExit("test_udev.py: unknown part %r (rules, verify or sysusers)" % part)
if part == "verify" and not shutil.which("systemd-analyze"):
    skip("systemd-analyze is not installed: the unit was not verified (Debian's systemd package: "
         "scripts/deps --test)")
if part == "sysusers" and not shutil.which("systemd-sysusers"):
    skip("systemd-sysusers is not installed: the sysusers file was not tried (Debian's systemd "
         "package: scripts/deps --test)")

# --- udev rules: evaluate our matches the way udev does (shell globs, '|' alternatives).
rules = open(os.path.join(src, "udev", "70-benchd.rules")).read() if part == "rules" else ""
assigns = []
for line in rules.splitlines():
    m = re.match(r'ATTR\{idProduct\}=="([^"]+)",\s*GROUP="benchd",\s*MODE="0660",\s*ENV\{BENCHD_MODE\}="([^"]+)"', line)
    if m:
        assigns.append((m.group(1).split("|"), m.group(2)))
if part == "rules" and 'ATTR{idVendor}!="05ac", GOTO="benchd_end"' not in rules:
    fails.append("rules do not stop at non-Apple vendors")


def mode_of(pid):
    hits = [mode for pats, mode in assigns if any(fnmatch.fnmatchcase(pid, p) for p in pats)]
    return hits


want = {"1290": "normal", "12a8": "normal", "12af": "normal", "129f": "normal", "1280": "recovery",
        "1281": "recovery", "1283": "recovery", "1227": "dfu", "1222": "wtf", "f014": "port-dfu"}
for pid, mode in want.items() if part == "rules" else ():
    if mode_of(pid) != [mode]:
        fails.append("05ac:%s matches %s, want [%s]" % (pid, mode_of(pid), mode))
for pid in ("1284", "12b0", "1228", "0001", "8600", "f015", "128f") if part == "rules" else ():
    if mode_of(pid):
        fails.append("05ac:%s should not match, matches %s" % (pid, mode_of(pid)))

# --- the unit
text = open(unit).read()
for key in ("NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=benchd", "User=benchd",
            "PrivateTmp=yes", "CapabilityBoundingSet=\n", "DeviceAllow=char-usb_device rw", "Type=notify"):
    if part == "rules" and key not in text:
        fails.append("the unit lacks %r" % key.strip())
if part == "verify":
    d = tempfile.mkdtemp()
    try:
        exe = re.search(r"ExecStart=(\S+)", text).group(1)
        p = os.path.join(d, "benchd.service")
        with open(p, "w") as f:
            f.write(text.replace(exe, benchd))
        r = subprocess.run(["systemd-analyze", "verify", p], capture_output=True, text=True)
        if r.returncode != 0:
            fails.append("systemd-analyze verify: " + r.stderr.strip())
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=25", p],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for benchd.service: ([0-9.]+)", r.stdout)
        if not m or float(m.group(1)) > 2.5:
            fails.append("systemd-analyze security: exposure %s (want <= 2.5)" % (m.group(1) if m else r.stdout[-300:]))
        else:
            print("systemd-analyze security: exposure %s" % m.group(1))
    finally:
        shutil.rmtree(d)

# --- sysusers: creates the benchd user with its own benchd group
if part == "sysusers":
    root = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(root, "etc"))
        r = subprocess.run(["systemd-sysusers", "--root=" + root, os.path.join(src, "udev", "benchd.sysusers.conf")],
                           capture_output=True, text=True)
        passwd = open(os.path.join(root, "etc", "passwd")).read() if r.returncode == 0 else ""
        group = open(os.path.join(root, "etc", "group")).read() if r.returncode == 0 else ""
        u = [l.split(":") for l in passwd.splitlines() if l.startswith("benchd:")]
        g = [l.split(":") for l in group.splitlines() if l.startswith("benchd:")]
        if not u or not g or u[0][3] != g[0][2] or u[0][5] != "/var/lib/benchd":
            fails.append("systemd-sysusers did not make user+group benchd: %s %s" % (r.stderr.strip(), u))
    finally:
        shutil.rmtree(root)

for f in fails:
    print("FAIL: " + f)
print("PASS" if not fails else "%d failure(s)" % len(fails))
sys.exit(1 if fails else 0)
