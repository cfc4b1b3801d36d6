#!/usr/bin/env python3
"""Integration tests of the bench workflow (DESIGN.md 4.8): cases, tickets, questions, revisions,
history, bookings, watching and adoption, with the real benchd, benchctl, idevice-emu and the
local case receiver (case_receiver.py).

  test_cases.py --bin DIR TEST [--work DIR]

TEST: booking, question, ticket, finish, crash, history, adopt. Exit 0 pass, 1 fail, 77 skipped.
The harness (Bench, Receiver, Emu) is test_benchd.py's; every process a test starts is killed
when it fails.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import plistlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_benchd as tb  # noqa: E402

from test_benchd import Fail, check, log, wait_for  # noqa: E402

TOP = os.path.dirname(os.path.dirname(HERE))
PROFILES = os.path.join(TOP, "tests", "profiles")
SKIP = 77
STARTED = tb.STARTED  # every Proc a test started: the harness kills each one's process group


# ---------------------------------------------------------------------------------------------
# Devices


def plist_replace(obj, old, new):
    """Every string equal to old (anywhere in a plist) becomes new."""
    if isinstance(obj, dict):
        return {k: plist_replace(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plist_replace(v, old, new) for v in obj]
    return new if obj == old else obj


def profile(work, name, src, udid, serial, product_type=None):
    """A copy of bundled profile src with its own UDID and serial number (and model)."""
    dst = os.path.join(work, "profiles", name)
    shutil.copytree(os.path.join(PROFILES, src), dst)
    pl = os.path.join(dst, "device.plist")
    with open(pl, "rb") as f:
        d = plistlib.load(f)
    root = d["Lockdown"]["Root"]
    d = plist_replace(d, root["UniqueDeviceID"], udid)
    d = plist_replace(d, root["SerialNumber"], serial)
    if product_type:
        d = plist_replace(d, root["ProductType"], product_type)
    # crash reports written here carry today's dates: the emulator must serve them as written
    d.pop("Clock", None)
    with open(pl, "wb") as f:
        plistlib.dump(d, f)
    return dst


def tg0b_profile(work, udid="00008030-00AB12CD34EF0011", serial="F2LZK0ABN72J"):
    """An iPhone 11 Pro (iPhone12,3) whose panic yesterday says TG0B is missing: the panics tree
    asks tg0b_new_battery (battery, or the charge-port flex that carries its second connector)."""
    dst = profile(work, "tg0b-11pro", "thermal-loop-12", udid, serial, "iPhone12,3")
    crashes = os.path.join(dst, "crashes")
    shutil.rmtree(crashes)
    os.makedirs(crashes)
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S.00 +0000")
    header = {"bug_type": "210", "timestamp": stamp, "os_version": "iPhone OS 17.1.2 (21B101)",
              "incident_id": str(uuid.uuid4()).upper()}
    body = {"build": "iPhone OS 17.1.2 (21B101)", "product": "iPhone12,3", "date": stamp,
            "panicString": "panic(cpu 1 caller 0xfffffff02a8c1f2c): userspace watchdog timeout: no successful "
                           "checkins from thermalmonitord\nservice: thermalmonitord, total successful checkins: 0\n"
                           "SD: 0 BC: 1 RC: 0 BS: 1, Missing sensor(s): TG0B\nDebugger message: panic"}
    with open(os.path.join(crashes, when.strftime("panic-full-%Y-%m-%d-%H%M%S.000.ips")), "w") as f:
        f.write(json.dumps(header) + "\n" + json.dumps(body, indent=2) + "\n")
    return udid, serial, dst


def worn_profile(work, name="worn", udid="00008030-00AB12CD34EF0022", serial="F17ZTEST0001"):
    """The worn iPhone 11 battery (BAT-001, BAT-002; no question)."""
    return udid, serial, profile(work, name, "worn-battery-11", udid, serial)


class Emu(tb.Emu):
    def __init__(self, work, dirs):
        super().__init__(work, [(None, d) for d in dirs])
        os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + self.sock

    def attach(self, d):
        r = self.cmd("attach " + d)
        check(r.startswith("ok"), "emulator attach: %s" % r)

    def detach(self, udid):
        r = self.cmd("detach " + udid)
        check(r.startswith("ok"), "emulator detach: %s" % r)


def detached_emu(work, devices):
    """An emulator serving the profiles, none attached yet (so the test decides when)."""
    emu = Emu(work, [d for _, _, d in devices])
    for udid, _, _ in devices:
        emu.detach(udid)
    return emu


# ---------------------------------------------------------------------------------------------
# benchd and benchctl


def bench(work, rx=None, extra="", name="bench", fleet=None):
    b = tb.Bench(work, name=name, upload_url=rx.url if rx else "", extra=extra)
    if fleet:
        tok = os.path.join(work, "fleet-token")
        with open(tok, "w") as f:
            f.write("fleet-s3cr3t\n")
        with open(b.conf, "a") as f:
            f.write("[fleet]\nurl = %s\ntoken_file = %s\n" % (fleet.url, tok))
    return b


def ctl(b, *args):
    """benchctl ARGS --json against b: (exit code, the JSON line or None, stderr)."""
    argv = [os.path.join(tb.A.bin, "benchctl"), "--state-dir", b.state, "--json"] + list(args) + ["--socket", b.sock]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    lines = r.stdout.strip().splitlines()
    out = json.loads(lines[-1]) if lines else None
    return r.returncode, out, r.stderr


def ctl_text(b, *args):
    argv = [os.path.join(tb.A.bin, "benchctl"), "--state-dir", b.state] + list(args) + ["--socket", b.sock]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def payload(b, report_id):
    with open(os.path.join(b.state, "reports", report_id + ".jws.json")) as f:
        jws = json.load(f)
    p = jws["payload"]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def latest_session(b, udid, n=1):
    """Wait for the device's n-th session to end; return it."""
    def ended():
        d, _ = tb.sessions_by_device(b)
        ss = [s for s in d.get(udid, []) if s["state"] != "running"]
        return len(ss) >= n and ss[0]
    return wait_for("session %d of %s to end" % (n, udid), ended, 40, 0.1)


def store_snapshot(b):
    """What a refusal must leave unchanged: the rows of every table and the report files."""
    db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
    rows = {t: db.execute("SELECT * FROM %s ORDER BY 1" % t).fetchall()
            for t in ("cases", "reports", "bookings", "outbox")}
    db.close()
    files = sorted(os.listdir(os.path.join(b.state, "reports")))
    return rows, files


def refused(b, args, rc_want, text, what):
    """A command refused with rc_want, a one-line reason containing text, the store unchanged."""
    before = store_snapshot(b)
    rc, out, err = ctl(b, *args)
    check(rc == rc_want, "%s: exit %d, want %d (%s)" % (what, rc, rc_want, err.strip()))
    check(out is not None and out.get("ok") is False and text in out.get("error", ""),
          "%s: --json says %s, want an error with %r" % (what, out, text))
    check(len(err.strip().splitlines()) == 1 and text in err, "%s: stderr %r is not one line with %r" % (what, err, text))
    check(store_snapshot(b) == before, "%s: the store or the report files changed" % what)
    log("refused as it should be (%d): %s" % (rc, err.strip()))


class Watch:
    """benchctl watch --json in the background, collecting events."""

    def __init__(self, b):
        argv = [os.path.join(tb.A.bin, "benchctl"), "--state-dir", b.state, "--json", "watch", "--socket", b.sock]
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
        STARTED.append(self)
        self.events = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.p.stdout:
            with self.lock:
                self.events.append(json.loads(line))

    def of(self, type_, **match):
        with self.lock:
            return [e for e in self.events if e["type"] == type_ and all(e.get(k) == v for k, v in match.items())]

    def wait(self, type_, timeout=30, **match):
        return wait_for("a %s event %s" % (type_, match), lambda: self.of(type_, **match), timeout, 0.05)[0]

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        """What the harness calls however the test ends (tb.kill_started)."""
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.p.wait()

    def stop(self, sig=signal.SIGINT):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def subscribed(b, w):
    """Wait until the watcher gets events: a booking added and removed is one it must see."""
    deadline = time.time() + 10
    while not w.of("booking.changed"):
        check(time.time() < deadline and w.alive(), "benchctl watch does not get events")
        rc, bk, err = ctl(b, "booking", "add", "--udid", "WATCH-PROBE", "--ticket", "T-0")
        check(rc == 0, "booking add: %s" % err)
        ctl(b, "booking", "remove", str(bk["booking"]["id"]))
        time.sleep(0.1)


def accepted_bodies(rx):
    out = {}
    for key in rx.accepted():
        with open(os.path.join(rx.dir, "accepted", key + ".json")) as f:
            out[key] = json.load(f)
    return out


# ---------------------------------------------------------------------------------------------
# Tests


def t_question(work):
    """A question holds the upload until answered; revision 2 supersedes revision 1 over the same
    snapshot and only it is delivered; refusals change nothing; trees changed since are refused;
    benchctl watch sees it all happen."""
    trees = os.path.join(work, "trees")
    shutil.copytree(os.path.join(TOP, "diag-trees"), trees)
    udid, serial, pdir = tg0b_profile(work)
    emu = detached_emu(work, [(udid, serial, pdir)])
    rx = tb.Receiver(work)
    b = bench(work, rx)
    b.start(env={"BENCHD_TREES_DIR": trees})
    w = Watch(b)
    subscribed(b, w)
    emu.attach(pdir)
    s1 = latest_session(b, udid)
    r1 = s1["report_id"]
    check(s1["state"] == "done" and r1, "session 1: %s" % s1)
    p1 = payload(b, r1)
    check([q["key"] for q in p1["questions"]] == ["tg0b_new_battery"], "the question is asked: %s" % p1["questions"])
    check(p1["outcome"] == "incomplete", "revision 1 is incomplete: %s" % p1["outcome"])
    case = p1["case"]
    check(case["revision"] == 1 and case["supersedes"] is None and len(case["case_id"]) == 36,
          "revision 1's case fields: %s" % case)
    # Held: nothing uploaded, and benchctl says what it waits for.
    time.sleep(1.5)
    check(rx.requests() == [], "a report with an open question was uploaded")
    rc, out, err = ctl_text(b, "outbox")
    check(rc == 0 and "waiting: question open (tg0b_new_battery)" in out and case["case_id"] in out,
          "benchctl outbox does not say why the case waits:\n" + out)
    rc, out, err = ctl_text(b, "status")
    check(rc == 0 and "waiting for the technician: 1" in out, "benchctl status:\n" + out)
    # Refusals: one line, exit 2, nothing changes.
    refused(b, ["answer", serial, "tg0b_new_batery=yes"], 2, "no tree asks 'tg0b_new_batery'", "an unknown key")
    refused(b, ["answer", serial, "tg0b_new_battery=maybe"], 2, "'maybe' is not one of the choices: yes, no",
            "a value outside the choices")
    refused(b, ["answer", "F2LNOSUCHONE", "tg0b_new_battery=yes"], 2,
            "no open case for F2LNOSUCHONE: plug it in or give a report id", "a device with no case")
    refused(b, ["answer", serial, "novalue"], 2, "is not KEY=VALUE", "an answer without a value")
    # The trees changed since revision 1: an answer would mix two sets of trees: refused.
    with open(os.path.join(trees, "panics.lua"), "a") as f:
        f.write("\n-- changed by the test\n")
    refused(b, ["answer", serial, "tg0b_new_battery=yes"], 1, "the diagnostic trees changed since that report",
            "trees changed since")
    with open(os.path.join(TOP, "diag-trees", "panics.lua"), "rb") as src, \
            open(os.path.join(trees, "panics.lua"), "wb") as dst:
        dst.write(src.read())
    # The answer, by case id this time (the serial, the UDID or a report id name it too).
    t0 = time.time()
    rc, a, err = ctl(b, "answer", r1, "tg0b_new_battery=no")
    took = time.time() - t0
    check(rc == 0 and a["ok"] and a["revision"] == 2 and a["final"] is True and a["waiting"] is None,
          "answer: %d %s %s" % (rc, a, err))
    r2 = a["report_id"]
    p2 = payload(b, r2)
    check(p2["case"] == dict(case, revision=2, supersedes=r1), "revision 2's case: %s" % p2["case"])
    check(p2["snapshot_sha256"] == p1["snapshot_sha256"], "revision 2 is not over the same snapshot")
    check(p2["answers"] == {"tg0b_new_battery": "no"} and p2["questions"] == [], "revision 2 answers: %s" % p2)
    pan = [f for f in p2["faults"] if f["code"] == "PAN-012"]
    check(pan and pan[0]["part"] == "battery", "the answer 'no' names the battery: %s" % pan)
    with open(os.path.join(b.state, "reports", r1 + ".snapshot.json"), "rb") as f1, \
            open(os.path.join(b.state, "reports", r2 + ".snapshot.json"), "rb") as f2:
        check(f1.read() == f2.read(), "revision 2's snapshot file is not revision 1's")
    # Only revision 2 is delivered, with its case fields in the body.
    wait_for("revision 2 delivered", lambda: rx.accepted() == {r2}, 20)
    body = accepted_bodies(rx)[r2]
    check(body["case"]["case_id"] == case["case_id"] and body["case"]["revision"] == 2 and
          body["case"]["supersedes"] == r1, "the upload body's case fields: %s" % body["case"])
    time.sleep(0.5)
    check({r["key"] for r in rx.requests()} == {r2}, "revision 1 was uploaded too")
    # Delivered: the case closed; the same answer again makes nothing new.
    w.wait("case.closed", case_id=case["case_id"])
    rc, a2, err = ctl(b, "answer", serial, "tg0b_new_battery=no")
    check(rc == 0 and a2["unchanged"] is True and a2["report_id"] == r2, "a repeated answer: %s" % a2)
    rc, out, err = ctl_text(b, "status")
    check("waiting for the technician: 0" in out, "status after the answer:\n" + out)
    # benchctl watch saw the whole story, in order.
    w.wait("case.delivered", report_id=r2)
    order = [("device.attached", {"device": udid}), ("session.reading", {"device": udid, "name": "battery"}),
             ("report.signed", {"report_id": r1, "final": False}),
             ("case.question", {"report_id": r1}), ("case.waiting", {"report_id": r1}),
             ("session.ended", {"device": udid, "state": "done"}),
             ("report.signed", {"report_id": r2, "revision": 2, "final": True}),
             ("case.delivered", {"report_id": r2, "target": "upload"}), ("case.closed", {"case_id": case["case_id"]})]
    seqs = []
    for t, m in order:
        e = w.of(t, **m)
        check(e, "benchctl watch missed %s %s" % (t, m))
        seqs.append(e[0]["seq"])
    check(seqs[:3] == sorted(seqs[:3]) and seqs[6:] == sorted(seqs[6:]), "events out of order: %s" % seqs)
    q = w.of("case.question", report_id=r1)[0]
    check(q["questions"][0]["choices"] == ["yes", "no"] and set(q["questions"][0]["texts"]) == {"en", "it", "fr", "zh"},
          "the question event: %s" % q)
    for e in w.events:
        check(e["at"].endswith("Z") and len(e["at"]) == 20, "an event time is not RFC 3339 UTC: %s" % e)
    check([e["seq"] for e in w.events] == sorted(e["seq"] for e in w.events), "seq does not increase")
    # The people's view of the same stream.
    rc, out, err = ctl_text(b, "history", serial)
    check(rc == 0 and r1[:8] not in out and "incomplete" in out and "fail" in out, "history:\n" + out)
    w.stop()
    check(w.p.returncode in (0, -signal.SIGINT, 130, 1), "watch exited %s" % w.p.returncode)
    log("answer gave revision 2 in %.2f s (benchctl round trip)" % took)
    b.stop()
    emu.stop()
    rx.stop()


def t_booking(work):
    """A booked device's first report carries its ticket and the customer's language is kept on
    the case; a serial booked twice is refused; used bookings stay as the record."""
    udid, serial, pdir = worn_profile(work)
    emu = detached_emu(work, [(udid, serial, pdir)])
    rx = tb.Receiver(work)
    b = bench(work, rx)
    b.start()
    rc, bk, err = ctl(b, "booking", "add", "--serial", serial.lower()[:4] + " " + serial.lower()[4:],
                      "--ticket", "T-4711", "--lang", "it", "--note", "screen cracked too")
    check(rc == 0 and bk["booking"]["value"] == serial and bk["booking"]["ticket"] == "T-4711" and
          bk["booking"]["lang"] == "it" and bk["booking"]["used_by"] is None,
          "booking add (case and spaces ignored): %d %s %s" % (rc, bk, err))
    bid = bk["booking"]["id"]
    refused(b, ["booking", "add", "--serial", serial, "--ticket", "T-9999"], 1, "is already booked (booking %d" % bid,
            "a serial already booked")
    refused(b, ["booking", "add", "--serial", "F2L1", "--ticket", "x" * 65], 2, "at most 64", "a ticket over 64 bytes")
    refused(b, ["booking", "add", "--serial", "F2L1", "--ticket", "T-1\x07"], 2, "control character",
            "a ticket with a control character")
    refused(b, ["booking", "add", "--serial", "F2L1", "--ticket", "T-1", "--lang", "de"], 2, "--lang must be",
            "a language we do not have")
    rc, other, err = ctl(b, "booking", "add", "--imei", "35 391805 123456 7", "--ticket", "T-5000")
    check(rc == 0 and other["booking"]["value"] == "353918051234567", "an IMEI booking: %s %s" % (other, err))
    rc, out, err = ctl(b, "booking", "remove", str(other["booking"]["id"]))
    check(rc == 0 and out["removed"] == other["booking"]["id"], "booking remove: %s %s" % (out, err))
    refused(b, ["booking", "remove", "424242"], 2, "no booking 424242", "removing a booking that is not there")
    # The booked device arrives.
    emu.attach(pdir)
    s1 = latest_session(b, udid)
    p1 = payload(b, s1["report_id"])
    check(p1["case"]["ticket"] == "T-4711" and p1["case"]["revision"] == 1 and p1["case"]["lang"] == "it",
          "the booked device's first report: %s" % p1["case"])
    wait_for("the upload", lambda: rx.accepted() == {s1["report_id"]}, 20)
    check(accepted_bodies(rx)[s1["report_id"]]["case"]["ticket"] == "T-4711", "the uploaded case has no ticket")
    rc, lst, err = ctl(b, "booking", "list")
    used = [x for x in lst["bookings"] if x["id"] == bid][0]
    check(used["used_by"] == p1["case"]["case_id"] and used["used_at"], "the booking keeps its case: %s" % used)
    refused(b, ["booking", "remove", str(bid)], 1, "served case " + p1["case"]["case_id"], "removing a used booking")
    rc, cases, err = ctl(b, "report", "list", "--device", serial)
    check(rc == 0 and [r["ticket"] for r in cases["reports"]] == ["T-4711"], "report list: %s" % cases)
    rc, sess, err = ctl(b, "sessions")
    live = [x for x in sess["live"] if x["device"] == udid][0]
    check(live["ticket"] == "T-4711" and live["model_name"] == "iPhone 11" and live["product_type"] == "iPhone12,1",
          "sessions shows model and ticket: %s" % live)
    recent = sess["recent"][0]
    check(recent["product_type"] == "iPhone12,1" and recent["model_name"] == "iPhone 11" and
          recent["ticket"] == "T-4711", "recent sessions: %s" % recent)
    rc, out, err = ctl_text(b, "sessions")
    check("T-4711" in out and "iPhone 11" in out, "benchctl sessions text:\n" + out)
    rc, rg, err = ctl(b, "report", "list")
    b.stop()
    db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
    row = db.execute("SELECT serial, product_type, model_name, ecid FROM devices WHERE id = ?", (udid,)).fetchone()
    check(row == (serial, "iPhone12,1", "iPhone 11", "0x1A35E21A05802E"), "the devices table: %s" % (row,))
    lang = db.execute("SELECT lang, booking_id FROM cases").fetchone()
    check(lang == ("it", bid), "the case keeps the customer's language and its booking: %s" % (lang,))
    db.close()
    emu.stop()
    rx.stop()


def t_ticket(work):
    """A link on a delivered case uploads a new revision (same snapshot, answers, faults), to the
    booking system and the fleet; with require_ticket a case waits for its ticket."""
    udid, serial, pdir = worn_profile(work)
    emu = detached_emu(work, [(udid, serial, pdir)])
    rx = tb.Receiver(work)
    fleet_dir = os.path.join(work, "fleet")
    os.makedirs(fleet_dir)
    fleet = tb.Receiver(fleet_dir)
    b = bench(work, rx, fleet=fleet)
    b.start()
    emu.attach(pdir)
    r1 = latest_session(b, udid)["report_id"]
    wait_for("revision 1 delivered to both targets", lambda: rx.accepted() == {r1} and fleet.accepted() == {r1}, 20)
    p1 = payload(b, r1)
    refused(b, ["link", serial, "T-" + "9" * 70], 2, "at most 64", "a ticket over 64 bytes")
    refused(b, ["link", serial, "T-1\n2"], 2, "control character", "a ticket with a newline")
    refused(b, ["link", serial, "   "], 2, "the ticket is empty", "an empty ticket")
    rc, a, err = ctl(b, "link", udid, "  T-2001 ")
    check(rc == 0 and a["revision"] == 2 and a["ticket"] == "T-2001" and a["final"] and not a["unchanged"],
          "link: %d %s %s" % (rc, a, err))
    r2 = a["report_id"]
    p2 = payload(b, r2)
    for k in ("faults", "trace", "answers", "questions", "snapshot_sha256", "outcome", "trees", "readings"):
        check(p2[k] == p1[k], "the linked revision changed %s" % k)
    check(p2["case"] == dict(p1["case"], ticket="T-2001", revision=2, supersedes=r1), "link case: %s" % p2["case"])
    check(subprocess.run([os.path.join(tb.A.bin, "benchctl"), "--state-dir", b.state, "report", "verify", r2],
                         capture_output=True).returncode == 0, "the linked revision does not verify")
    wait_for("revision 2 delivered to both", lambda: rx.accepted() == {r1, r2} and fleet.accepted() == {r1, r2}, 20)
    check(accepted_bodies(rx)[r2]["case"]["ticket"] == "T-2001", "the ticket did not travel")
    rc, a3, err = ctl(b, "link", serial, "T-2001")
    check(rc == 0 and a3["unchanged"] and a3["report_id"] == r2, "the same ticket again: %s" % a3)
    rc, ob, err = ctl(b, "outbox")
    tg = sorted((i["report_id"], i["target"], i["state"]) for i in ob["items"])
    check(tg == sorted([(r, t, "delivered") for r in (r1, r2) for t in ("upload", "fleet")]), "outbox rows %s" % tg)
    check(all(i["remote_id"] == "C-" + i["report_id"][:8] for i in ob["items"]), "remote ids: %s" % ob["items"])
    rc, out, err = ctl_text(b, "outbox")
    check("the server's case C-" + r2[:8] in out, "benchctl outbox does not show the server's case id:\n" + out)
    b.stop()
    emu.detach(udid)
    # require_ticket: the first revision waits for its ticket.
    os.makedirs(os.path.join(work, "rx2"))
    rx2 = tb.Receiver(os.path.join(work, "rx2"))
    b2 = bench(work, rx2, extra="require_ticket = yes", name="strict")
    b2.start()
    emu.attach(pdir)
    s = latest_session(b2, udid)
    time.sleep(1)
    check(rx2.requests() == [], "a case without a ticket was uploaded with require_ticket = yes")
    rc, out, err = ctl_text(b2, "outbox")
    check("waiting: no ticket" in out, "outbox with require_ticket:\n" + out)
    rc, a, err = ctl(b2, "link", serial, "T-3001")
    check(rc == 0 and a["final"] and a["revision"] == 2, "link with require_ticket: %s %s" % (a, err))
    wait_for("the ticketed revision delivered", lambda: rx2.accepted() == {a["report_id"]}, 20)
    check(s["report_id"] not in rx2.accepted(), "the revision without a ticket was uploaded")
    b2.stop()
    emu.stop()
    rx.stop()
    rx2.stop()
    fleet.stop()


def t_finish(work):
    """finish uploads a case with its question open, as it is."""
    udid, serial, pdir = tg0b_profile(work)
    emu = detached_emu(work, [(udid, serial, pdir)])
    rx = tb.Receiver(work)
    b = bench(work, rx)
    b.start()
    emu.attach(pdir)
    r1 = latest_session(b, udid)["report_id"]
    time.sleep(1)
    check(rx.requests() == [], "uploaded before finish")
    refused(b, ["finish", "NO-SUCH-DEVICE"], 2, "no open case for NO-SUCH-DEVICE", "finish of no case")
    rc, a, err = ctl(b, "finish", serial)
    check(rc == 0 and a["report_id"] == r1 and a["final"] and a["revision"] == 1 and not a["unchanged"],
          "finish: %d %s %s" % (rc, a, err))
    wait_for("the finished report delivered", lambda: rx.accepted() == {r1}, 20)
    body = accepted_bodies(rx)[r1]
    check(body["case"]["outcome"] == "incomplete", "finish sent it as it is: %s" % body["case"])
    rc, a2, err = ctl(b, "finish", serial)
    check(rc == 0 and a2["unchanged"], "finish again: %s" % a2)
    rc, out, err = ctl_text(b, "status")
    check("waiting for the technician: 0" in out, "status after finish:\n" + out)
    b.stop()
    emu.stop()
    rx.stop()


def t_crash(work):
    """SIGKILL between signing a revision and queuing it, for a session's revision and for an
    answer's: nothing lost, nothing duplicated."""
    udid, serial, pdir = tg0b_profile(work)
    emu = detached_emu(work, [(udid, serial, pdir)])
    rx = tb.Receiver(work)
    b = bench(work, rx)
    marker = os.path.join(work, "signed")
    b.start(env={"BENCHD_TEST_STALL_AFTER_SIGN": marker})
    emu.attach(pdir)
    wait_for("revision 1 signed", lambda: os.path.exists(marker), 40)
    with open(marker) as f:
        r1 = f.read().strip()
    check(os.path.exists(os.path.join(b.state, "reports", r1 + ".jws.json")), "no signed file before the kill")
    b.stop(signal.SIGKILL)
    db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
    check(db.execute("SELECT count(*) FROM reports").fetchone()[0] == 0, "the report was committed before the kill")
    db.close()
    os.unlink(marker)
    emu.detach(udid)
    b.start()
    check("adopted 1 signed report" in b.proc.text(), "revision 1 was not adopted at start:\n" + b.proc.text())
    rc, h, err = ctl(b, "history", serial)
    check(rc == 0 and [(r["report_id"], r["revision"], r["final"]) for r in h["reports"]] == [(r1, 1, False)],
          "after the first kill: %s %s" % (h, err))
    rc, out, err = ctl_text(b, "outbox")
    check("waiting: question open (tg0b_new_battery)" in out, "the adopted revision does not wait:\n" + out)
    b.stop()
    # The answer's revision, killed the same way.
    b.start(env={"BENCHD_TEST_STALL_AFTER_SIGN": marker})
    answer = subprocess.Popen([os.path.join(tb.A.bin, "benchctl"), "--state-dir", b.state, "answer", serial,
                               "tg0b_new_battery=yes", "--socket", b.sock], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    STARTED.append(answer)
    wait_for("revision 2 signed", lambda: os.path.exists(marker), 20)
    with open(marker) as f:
        r2 = f.read().strip()
    b.stop(signal.SIGKILL)
    answer.wait(timeout=20)
    check(answer.returncode != 0, "benchctl answer said it worked although benchd died")
    os.unlink(marker)
    b.start()
    wait_for("revision 2 delivered", lambda: rx.accepted() == {r2}, 20)
    p2 = payload(b, r2)
    check(p2["case"]["revision"] == 2 and p2["case"]["supersedes"] == r1 and
          p2["answers"] == {"tg0b_new_battery": "yes"}, "the adopted revision 2: %s" % p2["case"])
    time.sleep(1)
    reqs = rx.requests()
    check([r["key"] for r in reqs] == [r2], "requests after the kills: %s" % [r["key"] for r in reqs])
    db = sqlite3.connect(os.path.join(b.state, "benchd.db"))
    rows = db.execute("SELECT report_id, revision, final FROM reports ORDER BY revision").fetchall()
    check(rows == [(r1, 1, 0), (r2, 2, 1)], "reports after the kills: %s" % rows)
    ans = db.execute("SELECT answers, latest_report_id, state FROM cases").fetchone()
    check(json.loads(ans[0]) == {"tg0b_new_battery": "yes"} and ans[1] == r2 and ans[2] == "closed",
          "the case after the adoption: %s" % (ans,))
    check(db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1, "more than one outbox row")
    db.close()
    # Another answer now goes on from revision 2: the revision numbers do not collide.
    rc, a, err = ctl(b, "answer", serial, "tg0b_new_battery=no")
    check(rc == 0 and a["revision"] == 3, "an answer after the adoption: %s %s" % (a, err))
    wait_for("revision 3 delivered", lambda: rx.accepted() == {r2, a["report_id"]}, 20)
    b.stop()
    emu.stop()
    rx.stop()


def t_history(work):
    """Two visits of the same serial: two cases, every report oldest first, by serial or UDID."""
    udid, serial, pdir = worn_profile(work)
    emu = detached_emu(work, [(udid, serial, pdir)])
    rx = tb.Receiver(work)
    b = bench(work, rx)
    b.start()
    emu.attach(pdir)
    r1 = latest_session(b, udid)["report_id"]
    wait_for("visit 1 delivered", lambda: rx.accepted() == {r1}, 20)
    rc, a, err = ctl(b, "link", serial, "T-100")
    check(rc == 0, "link: %s" % err)
    wait_for("the link delivered", lambda: len(rx.accepted()) == 2, 20)
    emu.detach(udid)
    time.sleep(1.1)  # a new second for created_at
    emu.attach(pdir)
    r3 = latest_session(b, udid, 2)["report_id"]
    p1, p3 = payload(b, r1), payload(b, r3)
    check(p3["case"]["case_id"] != p1["case"]["case_id"] and p3["case"]["revision"] == 1,
          "the second visit is a new case (the first was delivered and closed): %s" % p3["case"])
    for dev in (serial, udid, serial.lower(), r3, p1["case"]["case_id"]):
        rc, h, err = ctl(b, "history", dev)
        check(rc == 0, "history %s: %s" % (dev, err))
        got = [(r["report_id"], r["case_id"], r["revision"], r["ticket"]) for r in h["reports"]]
        want = [(r1, p1["case"]["case_id"], 1, None), (a["report_id"], p1["case"]["case_id"], 2, "T-100"),
                (r3, p3["case"]["case_id"], 1, None)]
        check(got == want, "history %s: %s" % (dev, got))
        r = h["reports"][0]
        check(r["health_pct"] == 77 and r["cycle_count"] == 720 and r["battery_serial"] == "F5D9347R3AHLTLVA6" and
              r["faults"] == ["BAT-001", "BAT-002"] and r["outcome"] == "fail" and r["created_at"].endswith("Z"),
              "history fields: %s" % r)
        check(h["device"]["serial"] == serial and h["device"]["model_name"] == "iPhone 11", "history device %s" % h)
    refused(b, ["history", "NOBODY123"], 2, "no report of NOBODY123 on this bench", "history of an unknown device")
    rc, out, err = ctl_text(b, "history", serial)
    check(rc == 0 and out.count("BAT-001,BAT-002") == 3 and "T-100" in out and "77 %" in out, "history text:\n" + out)
    rc, rl, err = ctl(b, "report", "list", "--since", p3["created_at"])
    check(rc == 0 and [x["report_id"] for x in rl["reports"]] == [r3], "report list --since: %s" % rl)
    rc, rl, err = ctl(b, "report", "list", "--device", udid)
    check([x["report_id"] for x in rl["reports"]] == [r3, a["report_id"], r1], "report list newest first: %s" % rl)
    refused(b, ["report", "list", "--since", "yesterday"], 2, "since must be an RFC 3339 time", "a bad --since")
    b.stop()
    emu.stop()
    rx.stop()


def t_adopt(work):
    """A report benchctl run writes into a running benchd's state directory is adopted within
    seconds and uploaded; one signed by another key is moved to reports/rejected/."""
    rx = tb.Receiver(work)
    udid, serial, pdir = worn_profile(work)
    emu = detached_emu(work, [(udid, serial, pdir)])
    b = bench(work, rx)
    b.start()
    # benchctl run on this bench, over a recorded snapshot.
    snapfile = os.path.join(TOP, "diag-trees", "tests", "recorded", "worn-battery-11.json")
    t0 = time.time()
    r = subprocess.run([os.path.join(tb.A.bin, "benchctl"), "--state-dir", b.state, "--json", "run", "--snapshot",
                        snapfile, "--ticket", "T-77"], capture_output=True, text=True)
    check(r.returncode == 0, "benchctl run: %s" % r.stderr)
    rid = json.loads(r.stdout)["report_id"]
    wait_for("the run's report adopted and uploaded", lambda: rx.accepted() == {rid}, 10, 0.05)
    took = time.time() - t0
    check("adopted report %s" % rid in b.proc.text(), "no adoption logged")
    # A report signed by a key that is not this bench's.
    _, _, rep = tb.make_report(os.path.join(work, "elsewhere"), n=5)
    other = os.path.join(work, "elsewhere", "reports", rep["report_id"] + ".jws.json")
    tmp = os.path.join(b.state, "reports", ".incoming")
    shutil.copy(other, tmp)
    os.rename(tmp, os.path.join(b.state, "reports", rep["report_id"] + ".jws.json"))
    rejected = os.path.join(b.state, "reports", "rejected", rep["report_id"] + ".jws.json")
    wait_for("the foreign report moved aside", lambda: os.path.exists(rejected), 10, 0.05)
    check("does not verify with this bench's key" in b.proc.text(), "the rejection is not logged with why")
    time.sleep(0.5)
    check(rep["report_id"] not in rx.accepted(), "a foreign report was uploaded")
    rc, st, err = ctl(b, "status")
    check(st["reports"] == 1, "status counts %s reports" % st["reports"])
    # A session's own report is not adopted twice (its file appears before the store commit).
    emu.attach(pdir)
    s = latest_session(b, udid)
    wait_for("the session's report uploaded", lambda: s["report_id"] in rx.accepted(), 20)
    time.sleep(0.5)
    check("adopted report %s" % s["report_id"] not in b.proc.text(), "benchd adopted its own report")
    check(len([q for q in rx.requests() if q["key"] == s["report_id"]]) == 1, "the session's report went twice")
    log("benchctl run's report was adopted and delivered %.2f s after the run began" % took)
    b.stop()
    emu.stop()
    rx.stop()


TESTS = {"question": t_question, "booking": t_booking, "ticket": t_ticket, "finish": t_finish, "crash": t_crash,
         "history": t_history, "adopt": t_adopt}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="the build's bin/ directory")
    p.add_argument("--work", default="", help="keep the work directory here (default: a temp dir, removed)")
    p.add_argument("test", choices=sorted(TESTS))
    tb.A = p.parse_args()
    if not os.path.exists(os.path.join(tb.A.bin, "idevice-emu")):
        print("FAIL: idevice-emu is not built in " + tb.A.bin)
        return 1
    work = tb.A.work or tempfile.mkdtemp(prefix="benchd-cases-")
    os.makedirs(work, exist_ok=True)
    try:
        r = TESTS[tb.A.test](work)
        if r == SKIP:
            return SKIP
        print("PASS: %s" % tb.A.test)
        return 0
    except Fail as e:
        print("FAIL: %s: %s" % (tb.A.test, e))
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                with open(os.path.join(work, name), errors="replace") as f:
                    print("---- %s\n%s" % (name, f.read()[-6000:]))
        return 1
    finally:
        tb.kill_started()  # whatever the test left running, and their process groups
        if not tb.A.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
