#!/usr/bin/env python3
"""An independent usbmux/lockdown client that writes binary plists (Python's plistlib
FMT_BINARY, as clients in other languages do) reads a device from idevice-emu: ListDevices,
ReadBUID and ReadPairRecord on the mux; Connect to lockdownd; QueryType, GetValue, StartSession
and the session's TLS (Python's ssl, with the pair record's root identity), GetValue of the battery
domain inside TLS, StartService diagnostics_relay; then IORegistry over that service. Every reply
must come back binary too, and hold the profile's values. Hostile binary plists (a reference
cycle, deep nesting, an offset table pointing outside the file, a dictionary keyed by an
integer) are refused by closing that connection only: the emulator still answers afterwards.

  client-bplist.py EMU PROFILES_DIR          exit 0 pass, 1 fail
"""
import os
import plistlib
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

EMU, PROFILES = sys.argv[1], sys.argv[2]
PROFILE = os.path.join(PROFILES, "worn-battery-11")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


# ---- usbmux: 16-byte little-endian header (length, version 1, message 8 = plist, tag) + plist

class Mux:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.tag = 0
        self.last_raw = b""

    def request(self, msg, fmt=plistlib.FMT_BINARY):
        self.tag += 1
        body = plistlib.dumps(dict(msg, ClientVersionString="bplist-client 1", ProgName="client-bplist"),
                              fmt=fmt)
        self.s.sendall(struct.pack("<IIII", 16 + len(body), 1, 8, self.tag) + body)
        return self.reply()

    def reply(self):
        length, version, message, tag = struct.unpack("<IIII", recv_exact(self.s, 16))
        self.last_raw = recv_exact(self.s, length - 16)
        return plistlib.loads(self.last_raw)

    def close(self):
        self.s.close()


# ---- lockdown framing: 4-byte big-endian length + plist

def ld_send(s, msg):
    body = plistlib.dumps(msg, fmt=plistlib.FMT_BINARY)
    s.sendall(struct.pack(">I", len(body)) + body)


def ld_recv(s):
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    raw = recv_exact(s, n)
    return plistlib.loads(raw), raw


def ld(s, msg):
    ld_send(s, msg)
    return ld_recv(s)


def connect(sock_path, device_id, port):
    m = Mux(sock_path)
    r = m.request({"MessageType": "Connect", "DeviceID": device_id,
                   "PortNumber": socket.htons(port)})
    if r.get("MessageType") != "Result" or r.get("Number") != 0:
        raise ConnectionError("Connect to port %d: %r" % (port, r))
    return m.s


# ---- hostile binary plists, written by hand (plistlib cannot write these)

def bplist(objects, top=0, ref_size=1, off_size=2, table_at=None, nobjects=None):
    """objects: a list of encoded objects; returns a bplist00 with a proper offset table unless
    told otherwise."""
    body = b"bplist00"
    offsets = []
    for o in objects:
        offsets.append(len(body))
        body += o
    table = len(body) if table_at is None else table_at
    for off in offsets:
        body += off.to_bytes(off_size, "big")
    trailer = bytes(6) + bytes([off_size, ref_size]) + (nobjects or len(objects)).to_bytes(8, "big") + \
        top.to_bytes(8, "big") + table.to_bytes(8, "big")
    return body + trailer


def ascii_obj(s):
    return bytes([0x50 | len(s)]) + s.encode()


HOSTILE = {
    # an array holding itself: libplist 2.2 would recurse until the stack ends
    "a reference cycle": bplist([bytes([0xA1, 0])]),
    # 40 nested arrays, each holding the next
    "nesting 40 deep": bplist([bytes([0xA1, i + 1]) for i in range(40)] + [ascii_obj("x")]),
    # a binary tree of 24 shared levels: 2^24 visits for libplist, 49 objects in the file
    "shared references (2^24 visits)": bplist([bytes([0xA2, i + 1, i + 1]) for i in range(24)] + [ascii_obj("x")]),
    # the offset table claims to sit past the end of the file
    "an offset table outside the file": bplist([ascii_obj("x")], table_at=4000),
    # the trailer announces more objects than the table holds
    "more objects than the table": bplist([ascii_obj("x")], nobjects=500),
    # a dictionary keyed by an integer
    "a dictionary with an integer key": bplist([bytes([0xD1, 1, 2]), bytes([0x10, 7]), ascii_obj("v")]),
    # a string longer than the file
    "a string past the end": bplist([bytes([0x5F, 0x10, 0xFF]) + b"ab"]),
}


def main():
    tmp = tempfile.mkdtemp(prefix="emu-bplist.")
    sock = os.path.join(tmp, "mux.sock")
    log = open(os.path.join(tmp, "emu.log"), "w")
    emu = subprocess.Popen([EMU, "--socket", sock, PROFILE], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock):
            if emu.poll() is not None or time.time() > deadline:
                raise SystemExit("FAIL: idevice-emu did not start: " + open(log.name).read())
            time.sleep(0.05)
        with open(os.path.join(PROFILE, "device.plist"), "rb") as f:
            prof = plistlib.load(f)
        root = prof["Lockdown"]["Root"]
        bat = prof["IORegistry"]["AppleSmartBattery"]

        # usbmux: ListDevices, ReadBUID, ReadPairRecord, all binary both ways
        m = Mux(sock)
        devs = m.request({"MessageType": "ListDevices"})
        check(m.last_raw.startswith(b"bplist00"), "ListDevices: a binary request gets a binary answer")
        lst = devs.get("DeviceList", [])
        check(len(lst) == 1 and lst[0]["Properties"]["SerialNumber"] == root["UniqueDeviceID"].replace("-", ""),
              "ListDevices names the emulated phone (%s)" % [d.get("Properties", {}).get("SerialNumber") for d in lst])
        device_id = lst[0]["DeviceID"]
        buid = m.request({"MessageType": "ReadBUID"}).get("BUID")
        check(isinstance(buid, str) and len(buid) == 36, "ReadBUID gives a UUID")
        rec = m.request({"MessageType": "ReadPairRecord", "PairRecordID": root["UniqueDeviceID"]})
        record = plistlib.loads(rec["PairRecordData"])
        check(isinstance(record.get("HostID"), str), "ReadPairRecord gives a record with a HostID")
        m.close()
        m = Mux(sock)
        m.request({"MessageType": "ListDevices"}, fmt=plistlib.FMT_XML)
        check(m.last_raw.startswith(b"<?xml"), "an XML request still gets XML (what libusbmuxd reads)")
        m.close()

        # lockdownd
        s = connect(sock, device_id, 62078)
        r, raw = ld(s, {"Label": "client-bplist", "Request": "QueryType"})
        check(raw.startswith(b"bplist00") and r.get("Type") == "com.apple.mobile.lockdown",
              "QueryType over binary plists: com.apple.mobile.lockdown")
        r, _ = ld(s, {"Label": "client-bplist", "Request": "GetValue", "Key": "ProductType"})
        check(r.get("Value") == root["ProductType"], "GetValue ProductType = %s" % r.get("Value"))
        r, _ = ld(s, {"Label": "client-bplist", "Request": "GetValue", "Key": "ProductVersion"})
        check(r.get("Value") == root["ProductVersion"], "GetValue ProductVersion = %s" % r.get("Value"))
        r, _ = ld(s, {"Label": "client-bplist", "Request": "StartSession", "HostID": record["HostID"],
                      "SystemBUID": buid})
        check(r.get("EnableSessionSSL") is True and r.get("SessionID"), "StartSession asks for TLS")
        cert = os.path.join(tmp, "root.pem")
        with open(cert, "wb") as f:
            f.write(record["RootCertificate"] + b"\n" + record["RootPrivateKey"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(cert)
        t = ctx.wrap_socket(s)
        check(t.version() in ("TLSv1.2", "TLSv1.3"), "the lockdown session is TLS (%s)" % t.version())
        r, raw = ld(t, {"Label": "client-bplist", "Request": "GetValue", "Domain": "com.apple.mobile.battery"})
        v = r.get("Value", {})
        check(raw.startswith(b"bplist00") and
              v.get("BatteryCurrentCapacity") == prof["Lockdown"]["com.apple.mobile.battery"]["BatteryCurrentCapacity"],
              "GetValue com.apple.mobile.battery inside TLS: %s %%" % v.get("BatteryCurrentCapacity"))
        r, _ = ld(t, {"Label": "client-bplist", "Request": "StartService",
                      "Service": "com.apple.mobile.diagnostics_relay"})
        port = r.get("Port", 0)
        check(port > 0 and r.get("EnableServiceSSL") is False, "StartService diagnostics_relay gives a port (%s)" % port)
        r, _ = ld(t, {"Label": "client-bplist", "Request": "StopSession", "SessionID": "x"})
        check(r.get("Request") == "StopSession", "StopSession answered inside TLS")
        t.close()

        # diagnostics_relay, binary plists on the service connection too
        d = connect(sock, device_id, port)
        r, raw = ld(d, {"Request": "IORegistry", "EntryName": "AppleSmartBattery"})
        io = r.get("Diagnostics", {}).get("IORegistry", {})
        check(raw.startswith(b"bplist00") and r.get("Status") == "Success", "IORegistry answered in binary")
        check(io.get("CycleCount") == bat["CycleCount"] and io.get("DesignCapacity") == bat["DesignCapacity"]
              and io.get("NominalChargeCapacity") == bat["NominalChargeCapacity"],
              "the battery read through diagnostics_relay: %s cycles, %s/%s mAh" %
              (io.get("CycleCount"), io.get("NominalChargeCapacity"), io.get("DesignCapacity")))
        check(io.get("InstantAmperage") == bat["InstantAmperage"], "a negative InstantAmperage stays negative (%s)"
              % io.get("InstantAmperage"))
        r, _ = ld(d, {"Request": "Goodbye"})
        check(r.get("Status") == "Success", "Goodbye")
        d.close()

        # hostile binary plists: that connection ends, the emulator goes on
        for what, data in HOSTILE.items():
            for where in ("usbmux", "lockdown"):
                try:
                    if where == "usbmux":
                        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        c.settimeout(10)
                        c.connect(sock)
                        c.sendall(struct.pack("<IIII", 16 + len(data), 1, 8, 1) + data)
                    else:
                        c = connect(sock, device_id, 62078)
                        c.settimeout(10)
                        c.sendall(struct.pack(">I", len(data)) + data)
                    got = c.recv(64)
                    c.close()
                    refused = got == b""
                except (ConnectionError, OSError):
                    refused = True
                check(refused, "%s: %s refused (the connection is closed, no answer)" % (where, what))
        m = Mux(sock)
        again = m.request({"MessageType": "ListDevices"})
        m.close()
        check(emu.poll() is None and len(again.get("DeviceList", [])) == 1,
              "the emulator still answers after every hostile plist")
    finally:
        emu.send_signal(signal.SIGTERM)
        try:
            rc = emu.wait(15)
        except subprocess.TimeoutExpired:
            emu.kill()
            rc = emu.wait()
        log.close()
        text = open(log.name, errors="replace").read()
        check(rc == 0, "idevice-emu exits 0 on SIGTERM (%s)" % rc)
        check("ERROR: AddressSanitizer" not in text and "runtime error" not in text,
              "no sanitizer report in the emulator's log")
        if failures:
            print("--- emulator log ---\n" + text[-4000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
