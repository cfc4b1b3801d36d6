"""What the bench page's tests share: a benchd with its page on a kernel-chosen port, the
emulator, and a raw HTTP client that sends exactly the bytes a test asks for (any Host, any
Origin, no CSRF, a body too big), so every safety rule is tested against the real server."""

import json
import os
import re
import socket
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "agent"))
import test_benchd as T  # noqa: E402

check = T.check
log = T.log
Fail = T.Fail
wait_for = T.wait_for
PROFILES = os.path.join(HERE, "..", "profiles")


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> [values]
        self.body = body

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[-1] if v else None

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return "HTTP %d %s %r" % (self.status, self.reason, self.body[:300])


def parse_response(raw):
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
    if not m:
        raise Fail("not an HTTP response: %r" % raw[:200])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    body = rest
    if "chunked" in (headers.get("transfer-encoding") or [""])[-1].lower():
        out, p = b"", rest
        while True:
            size_line, _, p = p.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out += p[:size]
            p = p[size + 2:]
        body = out
    elif "content-length" in headers:
        body = rest[:int(headers["content-length"][-1])]
    return Response(int(m.group(1)), m.group(2), headers, body)


class Page:
    """The page of one benchd: its URL, host:port, and the CSRF token from GET /."""

    def __init__(self, bench):
        self.bench = bench
        path = os.path.join(bench.state, "web.url")
        wait_for("benchd to write web.url", lambda: os.path.exists(path), 20)
        with open(path) as f:
            self.url = f.read().strip()
        m = re.match(r"http://([^/]+)/$", self.url)
        self.hostport = m.group(1)
        self.port = int(self.hostport.rsplit(":", 1)[1])
        self.origin = "http://" + self.hostport
        self.csrf = None

    def raw(self, data, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        finally:
            s.close()
        return b"".join(chunks)

    def request(self, method, path, body=None, headers=None, host=None, csrf=True, origin=True,
                ctype="application/json", timeout=10.0):
        """One request on its own connection. csrf/origin True: the right ones (for POST and
        DELETE); a string: that value; None: left out."""
        h = {"Host": host if host is not None else self.hostport, "Connection": "close"}
        write = method in ("POST", "DELETE")
        if write and csrf is True:
            csrf = self.token()
        if write and csrf:
            h["X-Benchd-CSRF"] = csrf
        if write and origin is True:
            origin = self.origin
        if origin and origin is not True:
            h["Origin"] = origin
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            if ctype:
                h["Content-Type"] = ctype
        if body is not None or write:
            h["Content-Length"] = str(len(data))
        h.update(headers or {})
        lines = ["%s %s HTTP/1.1" % (method, path)] + ["%s: %s" % (k, v) for k, v in h.items() if v is not None]
        return parse_response(self.raw(("\r\n".join(lines) + "\r\n\r\n").encode() + data, timeout))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def token(self):
        if self.csrf is None:
            r = self.request("GET", "/")
            check(r.status == 200, "GET / %r" % r)
            m = re.search(rb'<meta name="benchd-csrf" content="([A-Za-z0-9_-]{43})">', r.body)
            check(m is not None, "no CSRF meta tag in the page")
            self.csrf = m.group(1).decode()
        return self.csrf

    def api(self, path):
        r = self.get(path)
        check(r.status == 200, "GET %s: %r" % (path, r))
        return r.json()


def start(work, profiles=(), web="listen = 127.0.0.1:0", extra="", upload_url=""):
    """The emulator with these (udid, dir) profiles attached, then benchd with its page."""
    T.A = T.A or type("A", (), {})()
    emu = None
    if profiles is not None:
        emu = T.Emu(work, list(profiles))
        os.environ["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + emu.sock
    b = T.Bench(work, web=web, extra=extra, upload_url=upload_url)
    b.start()
    return emu, b, Page(b)


def store_rows(bench, sql, args=()):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(bench.state, "benchd.db"), uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def report_files(bench):
    d = os.path.join(bench.state, "reports")
    return sorted(f for f in os.listdir(d) if f.endswith(".jws.json"))


def payload(path):
    import base64
    with open(path) as f:
        jws = json.load(f)
    p = jws["payload"]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def profile(name, n=0, udid_suffix=None):
    return os.path.join(PROFILES, name)


_procs = []
_orig_proc_init = T.Proc.__init__


def _registered(self, *a, **k):
    _orig_proc_init(self, *a, **k)
    _procs.append(self)


T.Proc.__init__ = _registered


def run_main(tests, argv=None):
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", default="")
    ap.add_argument("test", choices=sorted(tests))
    a = ap.parse_args(argv)
    T.A = a
    a.bin = os.path.abspath(a.bin)
    import shutil
    import tempfile
    work = a.work or tempfile.mkdtemp(prefix="benchd-web-")
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    ok = False
    try:
        rc = tests[a.test](work)
        if rc == 77:
            return 77
        ok = True
        print("PASS: %s in %.1f s" % (a.test, time.time() - t0), flush=True)
        return 0
    except Fail as e:
        print("FAIL: %s: %s" % (a.test, e), flush=True)
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                with open(os.path.join(work, name), errors="replace") as f:
                    print("---- %s\n%s" % (name, f.read()[-6000:]))
        return 1
    finally:
        # Nothing a test started outlives it, whatever happened (process groups included).
        for p in _procs:
            if p.alive():
                p.p.kill()
                p.p.wait()
        T.kill_started()
        if ok and not a.work:
            shutil.rmtree(work, ignore_errors=True)


def clone(work, name, udid, product_type=None, replace=()):
    """A copy of a bundled profile under a new UDID; product_type and crash-text replacements
    (old, new) make a variant (e.g. an 11 Pro with a TG0B panic, whose tree asks a question)."""
    import plistlib
    import shutil
    dst = os.path.join(work, "profiles", "%s-%s" % (name, udid[-6:]))
    shutil.copytree(os.path.join(PROFILES, name), dst)
    pl = os.path.join(dst, "device.plist")
    with open(pl, "rb") as f:
        d = plistlib.load(f)
    old_type = d["Lockdown"]["Root"].get("ProductType")
    old_serial = d["Lockdown"]["Root"].get("SerialNumber", "")
    old_bat = d.get("IORegistry", {}).get("AppleSmartBattery", {}).get("Serial", "")
    d["Lockdown"]["Root"]["UniqueDeviceID"] = udid
    if "UniqueChipID" in d["Lockdown"]["Root"] and "-" in udid:
        d["Lockdown"]["Root"]["UniqueChipID"] = int(udid.split("-")[1], 16)  # the ECID, as in the UDID
    # this copy's crash dates are moved below, by hand: the emulator must not move them again
    d.pop("Clock", None)
    data = plistlib.dumps(d)
    # Another phone: its own serial number and battery serial too (cases and battery history
    # follow them), the same length as the originals.
    tag = re.sub(r"[^0-9A-F]", "", udid.upper())[-6:]
    for old in (old_serial, old_bat):
        if len(old) > 6:
            data = data.replace(old.encode(), (old[:-6] + tag).encode())
    if product_type:
        data = data.replace(old_type.encode(), product_type.encode())
    with open(pl, "wb") as f:
        f.write(data)
    # The profiles' "today" is 2026-11-22: move crash dates by as much as the clock moved, so
    # "within 7 days" rules still see them as recent.
    import datetime
    shift = datetime.date.today() - datetime.date(2026, 11, 22)

    def moved(m):
        d = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) + shift
        return d.strftime("%Y-%m-%d").encode()

    crashes = os.path.join(dst, "crashes")
    for root, _, files in os.walk(crashes):
        for fn in files:
            p = os.path.join(root, fn)
            with open(p, "rb") as f:
                b = f.read()
            if product_type:
                b = b.replace(old_type.encode(), product_type.encode())
            for o, n in replace:
                b = b.replace(o.encode(), n.encode())
            b = re.sub(rb"(20\d\d)-(\d\d)-(\d\d)", moved, b)
            with open(p, "wb") as f:
                f.write(b)
    return udid, dst


def question_profile(work, udid="00008030-00AB11C0FFEE002E"):
    """An iPhone 11 Pro in a TG0B reboot loop: the panics tree asks tg0b_new_battery."""
    return clone(work, "thermal-loop-12", udid, product_type="iPhone12,3", replace=(("prs0", "TG0B"),))
