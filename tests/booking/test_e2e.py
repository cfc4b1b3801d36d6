#!/usr/bin/env python3
"""benchd end to end with its booking systems: emulated iPhones (idevice-emu) plugged into the
real benchd, which delivers to the strict local RepairShopr / RepairDesk servers of this folder.

  test_e2e.py --bin BUILD/bin TEST [--work DIR]

  rs.poll    polled bookings link a plugged device (a comment on its ticket, nothing twice);
             resolved tickets ignored; a ticket that closes drops its booking; no ticket waits;
             benchctl link files a waiting case; benchctl upload check
  rs.crash   SIGKILL of benchd while RepairShopr is answering, twice (two final revisions):
             exactly one comment per final revision
  rs.held    a missing ticket, a 422 and a refused token each held with their reason in
             benchctl outbox; fixed and retried
  rs.rate    64 devices finishing at once: never past the client cap (150/min) nor the server's
             published 180/min, nothing refused
  rd.poll    RepairDesk: a polled booking links the device, one diagnostic note; a closed device
             ignored; a missing ticket held

Exit 0 pass, 1 fail, 77 skipped (with the reason).
"""

import argparse
import json
import os
import plistlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "agent"))
sys.path.insert(0, HERE)
import test_benchd as tb  # noqa: E402  (the benchd harness: Bench, Emu, Proc, checks)
import test_booking as tk  # noqa: E402  (the booking servers and their fixtures)

check, log, wait_for, Fail = tb.check, tb.log, tb.wait_for, tb.Fail
TOKEN = tk.TOKEN


def clone(work, name, n, serial):
    """A bundled profile as another phone: its own UDID, ECID and serial number everywhere the
    profile names them (lockdown, MobileGestalt, ...)."""
    src = os.path.join(tb.PROFILES, name)
    dst = os.path.join(work, "profiles", "%02d-%s" % (n, name))
    shutil.copytree(src, dst)
    pl = os.path.join(dst, "device.plist")
    with open(pl, "rb") as f:
        d = plistlib.load(f)
    root = d["Lockdown"]["Root"]
    old_serial, old_ecid, old_udid = root["SerialNumber"], root["UniqueChipID"], root["UniqueDeviceID"]
    ecid = (old_ecid & ~0xFFFFF) | (0x40000 + n)
    udid = "%s-%016X" % (old_udid.split("-")[0], ecid)

    def swap(v):
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        if isinstance(v, str):
            return v.replace(old_serial, serial).replace(old_udid, udid)
        if isinstance(v, int) and not isinstance(v, bool) and v == old_ecid:
            return ecid
        return v

    d = swap(d)
    with open(pl, "wb") as f:
        plistlib.dump(d, f)
    return udid, dst


class Bench(tb.Bench):
    def ctl(self, *args, json_out=False):
        """booking and upload take their subcommand first, then --socket; the rest as test_benchd."""
        if args[0] not in ("booking", "upload"):
            return tb.Bench.ctl(self, *args, json_out=json_out)
        argv = [os.path.join(tb.A.bin, "benchctl"), "--state-dir", self.state] + list(args) + ["--socket", self.sock]
        if json_out:
            argv.append("--json")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        out = r.stdout
        if json_out and r.returncode == 0:
            out = json.loads(r.stdout)
        return r.returncode, out, r.stderr


def bench(work, srv, kind, token_file, poll=0, extra_upload="", name="bench"):
    b = Bench(work, name=name, upload_url=srv.url, token_file=token_file)
    with open(b.conf) as f:
        conf = f.read()
    conf = conf.replace("[upload]\n", "[upload]\nkind = %s\npoll_seconds = %d\n%s" % (kind, poll, extra_upload))
    with open(b.conf, "w") as f:
        f.write(conf)
    return b


def outbox_items(b):
    return b.outbox()["items"]


def bookings(b):
    rc, out, err = b.ctl("booking", "list", json_out=True)
    check(rc == 0, "benchctl booking list: %d %s" % (rc, err))
    return out["bookings"]


def session_report(b, udid, timeout=60):
    def done():
        d, _ = tb.sessions_by_device(b)
        ss = [s for s in d.get(udid, []) if s["state"] != "running"]
        return ss and ss[0]
    s = wait_for("the session of %s" % udid, done, timeout, 0.1)
    check(s["state"] == "done" and s["report_id"], "session of %s: %s" % (udid, s))
    return s["report_id"]


def markers(comments, rid):
    return [c for c in comments if ("benchd report " + rid) in (c.get("body") or c.get("note") or "")]


RUNNING = []  # what a failed test must not leave behind


def start(work, srv, kind, tok, poll=0, extra_upload=""):
    emu = tb.Emu(work, [])
    RUNNING.append(emu)
    os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b = bench(work, srv, kind, tok, poll, extra_upload)
    RUNNING.append(b)
    b.start()
    return emu, b


def kill_running():
    for x in RUNNING:
        p = getattr(x, "proc", None)
        if p is not None and p.alive():
            p.p.kill()
            p.p.wait()


def attach(emu, path):
    out = emu.cmd("attach " + path)
    check(out.startswith("ok "), "emulator attach %s: %s" % (path, out))


# ---------------------------------------------------------------------------------------------


def t_rs_poll(work):
    a_udid, a = clone(work, "worn-battery-11", 1, "F2LPOLL0001A")
    b_udid, bdev = clone(work, "worn-battery-11", 2, "F2LPOLL0002B")  # its ticket is resolved
    c_udid, cdev = clone(work, "worn-battery-11", 3, "F2LPOLL0003C")  # no ticket at all
    tickets = [tk.rs_ticket(900 + i, 5000 + i) for i in range(30)]
    tickets += [tk.rs_ticket(901 + 30, 4711, serial="f2l poll0001a"),
                tk.rs_ticket(902 + 30, 4712, status="Resolved", serial="F2LPOLL0002B"),
                tk.rs_ticket(903 + 30, 4713, serial="356541234567890"),
                tk.rs_ticket(904 + 30, 4714)]
    srv = tk.Server(work, "repairshopr", tickets)
    tok = tk.token_file(work)
    emu, b = start(work, srv, "repairshopr", tok, poll=1)
    bk = wait_for("the polled bookings", lambda: (lambda l: len(l) == 2 and l)(bookings(b)), 30, 0.2)
    got = {(x["kind"], x["value"], x["ticket"], x["source"]) for x in bk}
    check(got == {("serial", "F2LPOLL0001A", "4711", "repairshopr"), ("imei", "356541234567890", "4713", "repairshopr")},
          "bookings from open tickets: %s" % sorted(got))
    rc, out, err = b.ctl("upload", "check")
    check(rc == 0 and out.strip() == "RepairShopr at %s: token accepted, 33 open tickets" % srv.url,
          "upload check: %d %r %s" % (rc, out, err))
    # The booked phone is linked the moment it is plugged in.
    for p in (a, bdev, cdev):
        attach(emu, p)
    ra, rb, rc_ = (session_report(b, u) for u in (a_udid, b_udid, c_udid))
    wait_for("the comment on ticket 4711", lambda: (lambda i: i and i["state"] == "delivered" and i)(
        next((i for i in outbox_items(b) if i["report_id"] == ra), None)), 30, 0.2)
    cms = tk.comments_of(srv, 931)
    check(len(cms) == 1 and markers(cms, ra) and cms[0]["hidden"] and cms[0]["do_not_email"],
          "ticket 4711's comments: %s" % cms)
    item = next(i for i in outbox_items(b) if i["report_id"] == ra)
    check(item["remote_id"] == str(cms[0]["id"]) and item["phase"] == "comment %d on ticket 4711" % cms[0]["id"],
          "outbox row: %s" % item)
    rc, out, _ = b.ctl("outbox")
    check("outbox -> RepairShopr at %s" % srv.url in out and "comment %d on ticket 4711" % cms[0]["id"] in out,
          "benchctl outbox:\n" + out)
    # No ticket (resolved, or none): the cases wait, nothing is posted anywhere.
    ob = b.outbox()
    waiting = {w["report_id"]: w["why"] for w in ob["waiting"]}
    check(waiting.get(rb) == "no ticket" and waiting.get(rc_) == "no ticket", "waiting: %s" % waiting)
    check(not any(i["report_id"] in (rb, rc_) for i in ob["items"]), "a ticketless report was queued")
    check("waiting: no ticket" in out, "benchctl outbox does not say why:\n" + out)
    check(tk.comments_of(srv, 932) == [], "a comment on the resolved ticket")
    # A ticket that closes drops its booking.
    t = next(x for x in tickets if x["number"] == 4713)
    t["status"] = "Resolved"
    srv.admin("tickets", [t])
    wait_for("the closed ticket's booking to go", lambda: {x["ticket"] for x in bookings(b) if x["used_by"] is None} == set(), 15, 0.2)
    # The technician links the ticketless phone: that revision is filed on 4714, once.
    rc, out, err = b.ctl("link", c_udid, "4714")
    check(rc == 0 and "final" in out, "benchctl link: %d %s %s" % (rc, out, err))
    wait_for("the linked case's comment", lambda: len(tk.comments_of(srv, 934)) == 1, 30, 0.2)
    time.sleep(1.5)  # a poll or two more: nothing may be posted again
    check(len(tk.comments_of(srv, 931)) == 1 and len(tk.comments_of(srv, 934)) == 1, "a second comment appeared")
    posts = [q for q in srv.state()["requests"] if q["method"] == "POST"]
    check(len(posts) == 2, "%d POSTs, want 2" % len(posts))
    check(b.stop() == 0, "benchd exit status")
    emu.stop()


def t_rs_crash(work):
    udid, dev = clone(work, "worn-battery-11", 1, "F2LKILL0001A")
    srv = tk.Server(work, "repairshopr", [tk.rs_ticket(77, 4711, serial="F2LKILL0001A"), tk.rs_ticket(78, 4720)],
                    extra=["--comment-delay-ms", "2500"])
    tok = tk.token_file(work)
    emu, b = start(work, srv, "repairshopr", tok, poll=1)
    wait_for("the polled booking", lambda: len(bookings(b)) == 1, 30, 0.2)
    attach(emu, dev)
    reports = []
    for rnd, tid in ((1, 77), (2, 78)):
        if rnd == 1:
            rid = session_report(b, udid)
        else:
            # A second visit: the case of the first closed on delivery; this one waits for its
            # ticket until the technician links it.
            done_before = len([x for x in tb.sessions_by_device(b)[0].get(udid, []) if x["state"] == "done"])
            emu.cmd("detach " + udid)
            time.sleep(0.5)
            attach(emu, dev)
            wait_for("the second session", lambda: len([x for x in tb.sessions_by_device(b)[0].get(udid, [])
                                                         if x["state"] == "done"]) > done_before, 60, 0.2)
            rc, out, err = b.ctl("link", udid, "4720")
            check(rc == 0, "link: %s %s" % (out, err))
            rid = next(i["report_id"] for i in outbox_items(b) if i["report_id"] not in reports)
        reports.append(rid)
        before = srv.state()["answered"]
        wait_for("the comment POST in flight (round %d)" % rnd,
                 lambda: any(q["method"] == "POST" and q["status"] is None for q in srv.state()["requests"]), 30, 0.01)
        b.stop(signal.SIGKILL)
        log("round %d: benchd killed while RepairShopr was answering the comment POST" % rnd)
        wait_for("the server to store it", lambda: len(tk.comments_of(srv, tid)) == 1, 10)
        b.start()
        wait_for("report %s delivered after the restart" % rid,
                 lambda: any(i["report_id"] == rid and i["state"] == "delivered" for i in outbox_items(b)), 40, 0.2)
        item = next(i for i in outbox_items(b) if i["report_id"] == rid)
        cms = markers(tk.comments_of(srv, tid), rid)  # the restart's own revision may add one of its own
        check(len(cms) == 1, "round %d: report %s has %d comments on ticket %d: %s" % (rnd, rid, len(cms), tid, cms))
        check(item["remote_id"] == str(cms[0]["id"]) and "already on ticket" in item["last_answer"],
              "round %d: outbox row %s" % (rnd, item))
        check(srv.state()["answered"] > before, "no request after the restart")
    # benchd diagnoses a phone that is plugged in when it starts (a new revision of its open
    # case, final, so it gets a comment of its own): wait for the outbox to settle, then every
    # delivered revision has exactly one comment and no comment is there twice.
    wait_for("every upload delivered", lambda: all(i["state"] == "delivered" for i in outbox_items(b)), 40, 0.2)
    delivered = [i["report_id"] for i in outbox_items(b)]
    allc = tk.comments_of(srv, 77) + tk.comments_of(srv, 78)
    for rid in delivered:
        check(len(markers(allc, rid)) == 1, "report %s has %d comments" % (rid, len(markers(allc, rid))))
    check(len(allc) == len(delivered), "%d comments for %d delivered revisions" % (len(allc), len(delivered)))
    posts = [q for q in srv.state()["requests"] if q["method"] == "POST"]
    check(len(posts) == len(delivered), "%d comment POSTs for %d final revisions" % (len(posts), len(delivered)))
    check(b.stop() == 0, "benchd exit status")
    emu.stop()


def t_rs_held(work):
    devs = [clone(work, "worn-battery-11", i, "F2LHELD000%dX" % i) for i in range(1, 4)]
    srv = tk.Server(work, "repairshopr", [tk.rs_ticket(60, 4711), tk.rs_ticket(61, 4712)])
    tok = tk.token_file(work)
    emu, b = start(work, srv, "repairshopr", tok)
    serials = ["F2LHELD0001X", "F2LHELD0002X", "F2LHELD0003X"]
    for s, ticket in zip(serials, ("9999", "4711", "4712")):
        rc, out, err = b.ctl("booking", "add", "--serial", s, "--ticket", ticket)
        check(rc == 0, "booking add: %s %s" % (out, err))
    srv.admin("inject", {"method": "POST", "path": "/tickets/60/comment$", "status": 422,
                         "body": {"success": False, "message": ["Ticket is locked for editing"]}})
    rids = []
    for udid, path in devs[:2]:
        attach(emu, path)
        rids.append(session_report(b, udid))
    wait_for("two held", lambda: b.outbox()["counts"]["held"] == 2, 30, 0.2)
    # The token goes bad (rotated on the server, not here): the next report is held for it.
    with open(tok, "w") as f:
        f.write("an-old-token\n")
    attach(emu, devs[2][1])
    rids.append(session_report(b, devs[2][0]))
    wait_for("three held", lambda: b.outbox()["counts"]["held"] == 3, 30, 0.2)
    rc, out, _ = b.ctl("outbox")
    items = {i["report_id"]: i for i in outbox_items(b)}
    for rid, want in zip(rids, ("no ticket 9999 in RepairShopr", "Ticket is locked for editing",
                                "token refused by RepairShopr: check token_file")):
        check(items[rid]["state"] == "held" and want in items[rid]["last_answer"], "%s: %s" % (want, items[rid]))
        line = [l for l in out.splitlines() if rid in l and "held" in l]
        check(line and want in line[0], "benchctl outbox does not show %r:\n%s" % (want, out))
    check(items[rids[1]]["last_status"] == 422 and items[rids[2]]["last_status"] == 401, "statuses %s" % items)
    rc, out, err = b.ctl("upload", "check")
    check(rc == 1 and "token refused (HTTP 401): check token_file" in err, "upload check with a bad token: %d %s %s" % (rc, out, err))
    rc, out, err = b.ctl("upload", "check", json_out=True)
    check(rc == 1, "upload check --json exit %d" % rc)
    # Fixed: the ticket exists, the lock is gone, the token is right again; retried, all filed.
    srv.admin("tickets", [tk.rs_ticket(62, 9999)])
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    rc, out, err = b.ctl("outbox", "retry", "--held")
    check(rc == 0, "retry --held: %s" % err)
    wait_for("every report delivered", lambda: b.outbox()["counts"]["delivered"] == 3, 30, 0.2)
    for tid in (60, 61, 62):
        check(len(tk.comments_of(srv, tid)) == 1, "ticket id %d: %d comments" % (tid, len(tk.comments_of(srv, tid))))
    check(b.stop() == 0, "benchd exit status")
    emu.stop()


def t_rs_rate(work):
    n = 64
    devs = [clone(work, "healthy-15pro", i, "F2LRATE%05d" % i) for i in range(n)]
    srv = tk.Server(work, "repairshopr", [tk.rs_ticket(500 + i, 8000 + i) for i in range(n)])
    tok = tk.token_file(work)
    emu, b = start(work, srv, "repairshopr", tok)
    # 64 bookings over one control connection (64 benchctl runs would cost more than the test).
    s = socket.socket(socket.AF_UNIX)
    s.connect(b.sock)
    f = s.makefile("rwb")
    for i in range(n):
        f.write(json.dumps({"cmd": "booking_add", "serial": "F2LRATE%05d" % i, "ticket": str(8000 + i)}).encode() + b"\n")
    f.flush()
    for i in range(n):
        ans = json.loads(f.readline())
        check(ans["ok"] is True, "booking_add: %s" % ans)
    s.close()
    t0 = time.time()
    for _, path in devs:
        attach(emu, path)
    wait_for("64 reports delivered", lambda: b.outbox()["counts"]["delivered"] == n, 170, 0.5)
    took = time.time() - t0
    st = srv.state()
    times = [q["time"] for q in st["requests"]]
    peak = tk.max_in_window(times)
    log("64 devices: %d requests in %.1f s from the first plug; at most %d in any 60 s (cap 150, RepairShopr "
        "180); %d refused with 429; %.0f requests/min over the run" %
        (len(times), took, peak, st["refused_429"], len(times) / max(took, 1) * 60))
    check(len(times) > 180, "the demand (%d requests) did not pass the published limit: the test proves nothing" % len(times))
    check(st["refused_429"] == 0, "%d requests refused with 429" % st["refused_429"])
    check(peak <= 150, "%d requests in one 60 s window, cap 150" % peak)
    check(all(len(t["comments"]) == 1 for t in st["tickets"]), "a ticket without exactly one comment")
    check(b.stop() == 0, "benchd exit status")
    emu.stop()


def t_rd_poll(work):
    a_udid, a = clone(work, "worn-battery-11", 1, "F2LDESK0001A")
    b_udid, bdev = clone(work, "worn-battery-11", 2, "F2LDESK0002B")
    m_udid, mdev = clone(work, "worn-battery-11", 3, "F2LDESK0003M")
    tickets = tk.rd_tickets(40)
    tickets += [tk.rd_ticket(12353 + 100, "T-12453", [tk.rd_device("", "F2LDESK0001A")]),
                tk.rd_ticket(12354 + 100, "T-12454", [tk.rd_device("", "F2LDESK0002B", "Closed")])]
    srv = tk.Server(work, "repairdesk", tickets)
    tok = tk.token_file(work)
    emu, b = start(work, srv, "repairdesk", tok, poll=1)
    bk = wait_for("the polled booking", lambda: (lambda l: len(l) == 1 and l)(bookings(b)), 30, 0.2)
    check(bk[0]["value"] == "F2LDESK0001A" and bk[0]["ticket"] == "T-12453" and bk[0]["source"] == "repairdesk",
          "bookings: %s" % bk)
    rc, out, err = b.ctl("upload", "check")
    check(rc == 0 and out.strip() == "RepairDesk at %s: api key accepted, 42 tickets" % srv.url, "upload check: %s %s" % (out, err))
    rc, out, err = b.ctl("booking", "add", "--serial", "F2LDESK0003M", "--ticket", "T-9999")
    check(rc == 0, "booking add: %s" % err)
    for p in (a, bdev, mdev):
        attach(emu, p)
    ra, rb, rm = (session_report(b, u) for u in (a_udid, b_udid, m_udid))
    wait_for("the note and the held one", lambda: b.outbox()["counts"]["delivered"] == 1 and b.outbox()["counts"]["held"] == 1, 40, 0.2)
    notes = tk.comments_of(srv, 12453, "repairdesk")
    check(len(notes) == 1 and notes[0]["type"] == 1 and markers(notes, ra), "notes on T-12453: %s" % notes)
    items = {i["report_id"]: i for i in outbox_items(b)}
    check(items[ra]["remote_id"] == str(notes[0]["id"]), "remote id %s" % items[ra])
    check("no ticket T-9999 in RepairDesk" in items[rm]["last_answer"], "missing ticket: %s" % items[rm])
    check({w["report_id"] for w in b.outbox()["waiting"]} == {rb}, "the closed ticket's device does not wait")
    check(tk.comments_of(srv, 12454, "repairdesk") == [], "a note on a closed ticket")
    check(b.stop() == 0, "benchd exit status")
    emu.stop()


TESTS = {"rs.poll": t_rs_poll, "rs.crash": t_rs_crash, "rs.held": t_rs_held, "rs.rate": t_rs_rate,
         "rd.poll": t_rd_poll}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--work")
    p.add_argument("test", choices=sorted(TESTS))
    a = p.parse_args()
    tb.A = types.SimpleNamespace(bin=a.bin)
    tb.devices_ready()
    try:
        import cryptography  # noqa: F401
    except ImportError:
        print("skip: python3-cryptography is not installed (scripts/deps --test)")
        return 77
    work = a.work or tempfile.mkdtemp(prefix="booking-e2e.")
    os.makedirs(work, exist_ok=True)
    rc = 1
    try:
        TESTS[a.test](work)
        log("%s: pass" % a.test)
        rc = 0
    except Fail as e:
        log("%s: FAIL: %s" % (a.test, e))
    finally:
        kill_running()
        for s in tk.STARTED:
            s.stop()
        tb.kill_started()  # and their process groups
        if rc == 0 and not a.work:
            shutil.rmtree(work, ignore_errors=True)
        elif rc:
            log("logs kept in " + work)
    return rc


if __name__ == "__main__":
    sys.exit(main())
