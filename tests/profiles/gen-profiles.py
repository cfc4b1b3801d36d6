#!/usr/bin/env python3
"""Write the bundled idevice-emu profiles (tests/profiles/<name>/): device.plist, syslog.txt and
crashes/. The output is committed; rerun after editing this file. Values follow
docs/DOMAIN.md and docs/PROTOCOL.md section 7. Crash dates are written as of AS_OF (the bench
"today", 2026-11-22 10:00 UTC) and every device.plist says so in Clock/CrashDatesAsOf: the
emulator moves them to its own start, so the demo's panics are recent on any date. Each profile's DevicePublicKey is generated once
with openssl and kept on later runs."""

import json
import os
import plistlib
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The bench "today" the data is written for (Clock/CrashDatesAsOf in every device.plist).
AS_OF = "2026-11-22T10:00:00Z"

BUILDS = {"15.8": "19H370", "16.7.2": "20H115", "17.1.2": "21B101", "17.4.1": "21E236",
          "17.5.1": "21F90", "17.6.1": "21G93"}
DARWIN = {"15.8": ("21.6.0", "8020.240.18.700.8"), "16.7.2": ("22.6.0", "8796.142.1.702.9"),
          "17.1.2": ("23.1.0", "10002.42.2"), "17.4.1": ("23.4.0", "10063.102.14"),
          "17.5.1": ("23.5.0", "10063.122.3"), "17.6.1": ("23.6.0", "10063.142.1")}


def pubkey(name):
    """The profile's existing DevicePublicKey, or a new RSA-2048 one (PKCS#1 PEM)."""
    old = os.path.join(HERE, name, "device.plist")
    if os.path.exists(old):
        with open(old, "rb") as f:
            k = plistlib.load(f)["Lockdown"]["Root"].get("DevicePublicKey")
        if k:
            return k
    priv = subprocess.run(["openssl", "genrsa", "2048"], check=True, capture_output=True).stdout
    return subprocess.run(["openssl", "rsa", "-RSAPublicKey_out"], input=priv, check=True,
                          capture_output=True).stdout


def kernel_line(p):
    ver, xnu = DARWIN[p["ios"]]
    return ("Darwin Kernel Version %s: Wed Oct  4 21:26:41 PDT 2023; root:xnu-%s~1/RELEASE_ARM64_%s"
            % (ver, xnu, p["platform"].upper()))


def panic_text(p, cpu, caller, message, when_build, task="pid 0: kernel_task", extra=""):
    return ("panic(cpu %d caller 0x%x): %s\n" % (cpu, caller, message) + extra +
            "Debugger message: panic\nMemory ID: 0x6\nOS release type: User\n"
            "OS version: %s\nKernel version: %s\n" % (when_build, kernel_line(p)) +
            "Fileset Kernelcache UUID: 3F1A2C0E9B7D4E2A8C5B6D7E8F901A2B\n"
            "Kernel UUID: 9E2B7C14-5A3D-3F6E-8B1C-2D4E6F8A0B1C\n"
            "Boot session UUID: 6C1D2E3F-4A5B-4C6D-8E7F-9A0B1C2D3E4F\n"
            "iBoot version: %s\nsecure boot?: YES\nroots installed: 0\nPaniclog version: 14\n"
            % (p["iboot"],) +
            "KernelCache slide: 0x000000001c2b4000\nKernelCache base:  0xfffffff0232b8000\n"
            "Kernel slide:      0x000000001d8d0000\nKernel text base:  0xfffffff0248d4000\n"
            "mach_absolute_time: 0x4a3f1c2b9\n"
            "Epoch Time:        sec       usec\n  Boot    : 0x673b1a2c 0x0004d3a1\n"
            "Panicked task 0xffffffe1b2c3d480: 0 pages, 350 threads: %s\n"
            "Panicked thread: 0xffffffe1b5a6c7d8, backtrace: 0xffffffeb3f4a7c40, tid: 412\n"
            "\t\t  lr: 0xfffffff024a1c2d4  fp: 0xffffffeb3f4a7cb0\n"
            "\t\t  lr: 0xfffffff024a1b8f0  fp: 0xffffffeb3f4a7d20\n"
            "\t\t  lr: 0xfffffff024b7e1a4  fp: 0xffffffeb3f4a7d40\n" % task)


def ips(p, bug_type, name, date, tz, incident, key, body_fields):
    """A panic-full style .ips: one JSON header line, then the JSON body."""
    build = "iPhone OS %s (%s)" % (p["ios"], BUILDS[p["ios"]])
    header = {"bug_type": bug_type, "timestamp": "%s.00 %s" % (date, tz), "os_version": build,
              "roots_installed": 0, "incident_id": incident}
    body = {"build": build, "product": p["product"], "socId": p["soc"], "kernel": kernel_line(p),
            "incident": incident, "crashReporterKey": key, "date": "%s.%02d %s" % (date, 41, tz)}
    body.update(body_fields)
    body.setdefault("panicFlags", "0x902")
    body.setdefault("otherString", "\n** Stackshot Succeeded ** Bytes Traced 412360 (Uncompressed 1022048) **\n")
    body.setdefault("memoryStatus", {"compressorSize": 31244, "compressions": 1032544,
                                     "decompressions": 520188, "busyBufferCount": 0,
                                     "memoryPressureDetails": {"pagesWanted": 0,
                                                               "pagesReclaimed": 0},
                                     "pageSize": 16384, "memoryPressure": False,
                                     "memoryPages": {"active": 201512, "throttled": 0,
                                                     "fileBacked": 148210, "wired": 61204,
                                                     "purgeable": 2914, "inactive": 198244,
                                                     "free": 11822, "speculative": 9021}})
    text = json.dumps(header, separators=(",", ":")) + "\n" + json.dumps(body, indent=2) + "\n"
    return name, text.encode()


def battery(p):
    b = p["bat"]
    ioreg = {
        "AdapterDetails": {"Watts": 0, "Voltage": 0, "Current": 0, "Description": "batt",
                           "FamilyCode": 0, "IsWireless": False},
        "AppleRawAdapterDetails": [],
        "AppleRawBatteryVoltage": b["volt"] - 6,
        "AppleRawCurrentCapacity": b["raw_max"] * b["pct"] // 100,
        "AppleRawExternalConnected": b["charging"],
        "AppleRawMaxCapacity": b["raw_max"],
        "AbsoluteCapacity": b["raw_max"] * b["pct"] // 100,
        "Amperage": b["amp"] + 7,
        "AtCriticalLevel": False,
        "AtWarnLevel": False,
        "AvgTimeToEmpty": 65535 if b["charging"] else 412,
        "AvgTimeToFull": 65535,
        "BatteryData": {"CycleCount": b["cycles"], "DesignCapacity": b["design"],
                        "Qmax": [b["raw_max"] + 42], "StateOfCharge": b["pct"],
                        "CellVoltage": [b["volt"]], "ChemID": b["chemid"],
                        "DataFlashWriteCount": 1800 + b["cycles"] * 3,
                        "DailyMaxSoc": 100 if b["cycles"] > 400 else 95, "DailyMinSoc": 14,
                        "Serial": b["serial"]},
        "BatteryInstalled": True,
        "BootVoltage": 3852,
        "CurrentCapacity": b["pct"],
        "CycleCount": b["cycles"],
        "DesignCapacity": b["design"],
        "ExternalChargeCapable": b["charging"],
        "ExternalConnected": b["charging"],
        "FullyCharged": False,
        "InstantAmperage": b["amp"],
        "IsCharging": b["charging"],
        "MaxCapacity": 100,
        "NominalChargeCapacity": b["nominal"],
        "Serial": b["serial"],
        "Temperature": b["temp"],
        "TimeRemaining": 65535 if b["charging"] else 398,
        "UpdateTime": 1795341540,
        "VirtualTemperature": b["temp"] + 120,
        "Voltage": b["volt"],
    }
    return ioreg


def device_plist(name, p):
    b = p["bat"]
    health = -(-b["nominal"] * 100 // b["design"])
    root = {
        "ActivationState": "Activated",
        "ActivationStateAcknowledged": True,
        "BasebandStatus": "BBInfoAvailable",
        "BasebandVersion": p["baseband"],
        "BluetoothAddress": p["bt"],
        "BoardId": p["bdid"],
        "BrickState": False,
        "BuildVersion": BUILDS[p["ios"]],
        "CPUArchitecture": "arm64e",
        "ChipID": p["cpid"],
        "DeviceClass": "iPhone",
        "DeviceColor": "1",
        "DeviceName": p["name"],
        "DevicePublicKey": pubkey(name),
        "DieID": p["ecid"] * 7 % (1 << 62),
        "FirmwareVersion": p["iboot"],
        "HardwareModel": p["hwmodel"],
        "HardwarePlatform": p["platform"],
        "HostAttached": True,
        "ModelNumber": p["model_number"],
        "PasswordProtected": p.get("locked", False),
        "ProductName": "iPhone OS",
        "ProductType": p["product"],
        "ProductVersion": p["ios"],
        "ProtocolVersion": "2",
        "RegionInfo": "LL/A",
        "SerialNumber": p["serial"],
        "TelephonyCapability": True,
        "TimeIntervalSince1970": 1795341600.0,
        "TimeZone": "Europe/Berlin",
        "TimeZoneOffsetFromUTC": 3600.0,
        "UniqueChipID": p["ecid"],
        "UniqueDeviceID": "%08X-%016X" % (p["cpid"], p["ecid"]),
        "WiFiAddress": p["wifi"],
    }
    gg = {"CycleCount": b["cycles"], "DesignCapacity": b["design"],
          "FullChargeCapacity": p["gg_full"], "Status": "Success"}
    diags = {
        "All": {"GasGauge": gg, "HDMI": {"Connection": "Unplugged", "Status": "Success"},
                "NAND": {"Status": "Success"}, "WiFi": {"Active": "YES", "Status": "Success"}},
        "GasGauge": {"GasGauge": gg},
        "NAND": {"NAND": {"Status": "Success"}},
        "WiFi": {"WiFi": {"Active": "YES", "Status": "Success"}},
    }
    if tuple(int(x) for x in p["ios"].split(".")) >= (17, 4):  # MobileGestalt gone
        gestalt = "Deprecated"
    else:
        gestalt = {"ProductType": p["product"], "SerialNumber": p["serial"],
                   "UniqueChipID": p["ecid"], "CPUArchitecture": "arm64e",
                   "BuildVersion": BUILDS[p["ios"]], "ProductVersion": p["ios"],
                   "HWModelStr": p["hwmodel"], "RegionInfo": "LL/A",
                   "ModelNumber": p["model_number"], "PasswordConfigured": True,
                   "BatteryCurrentCapacity": b["pct"], "DeviceName": p["name"]}
    doc = {
        "ProductID": 0x12A8,
        "Lockdown": {
            "Root": root,
            "com.apple.mobile.battery": {"BatteryCurrentCapacity": b["pct"],
                                         "BatteryIsCharging": b["charging"],
                                         "ExternalChargeCapable": b["charging"],
                                         "ExternalConnected": b["charging"],
                                         "FullyCharged": False, "GasGaugeCapability": True,
                                         "HasBattery": True},
            "com.apple.disk_usage": p["disk"],
            "com.apple.international": {"Language": "en", "Locale": "en_US"},
        },
        "IORegistry": {"AppleSmartBattery": battery(p)},
        "MobileGestalt": gestalt,
        "Diagnostics": diags,
        "Behaviour": p.get("behaviour", {}),
        # The crash reports below are dated as of this moment; idevice-emu serves their dates
        # moved to its own start, so a panic 2 days before it is 2 days old on any date.
        "Clock": {"CrashDatesAsOf": AS_OF},
    }
    assert health == p["expect_health"], (name, health)
    return doc


def disk(total_gb, avail_gb):
    t = total_gb * 1000 * 1000 * 1000
    a = int(avail_gb * 1000 * 1000 * 1000)
    return {"TotalDiskCapacity": t, "TotalSystemCapacity": 11_830_000_000,
            "TotalSystemAvailable": 1_020_000_000, "TotalDataCapacity": t - 12_900_000_000,
            "TotalDataAvailable": a + 1_800_000_000, "AmountDataAvailable": a,
            "AmountDataReserved": 209_715_200, "CalculateDiskUsage": "OkilyDokily"}


def syslog(hostname, entries):
    out = []
    for (t, proc, level, msg) in entries:
        out.append("Nov 22 %s %s %s <%s>: %s" % (t, hostname, proc, level, msg))
    return "\n".join(out) + "\n"


COMMON_LOG = [
    ("10:00:01", "SpringBoard(FrontBoard)[61]", "Notice", "[app<com.apple.springboard>] Workspace connection established"),
    ("10:00:01", "lockdownd[78]", "Notice", "_handle_connection: new connection from host"),
    ("10:00:02", "mobileassetd[121]", "Notice", "Asset query for com.apple.MobileAsset.TimeZoneUpdate finished: 0 results"),
    ("10:00:02", "locationd[93]", "Notice", "os_transaction created: (<private>) <private>"),
    ("10:00:03", "CommCenter[104]", "Notice", "#I Signal strength: bars=4 rssi=-79"),
    ("10:00:04", "wifid(WiFiPolicy)[56]", "Notice", "__WiFiLQAMgrLogStats: rssi=-58 snr=34 txRate=866"),
]


def profiles():
    P = {}
    P["healthy-15pro"] = dict(
        product="iPhone16,1", hwmodel="D83AP", platform="t8130", soc="8130", cpid=0x8130,
        bdid=0x04, ecid=0x000A1C2E3B4D801E, serial="HX7QK4N2VJ6T", ios="17.5.1",
        name="Jonas's iPhone", host="Jonass-iPhone", model_number="MTUV3",
        iboot="iBoot-10151.122.1", baseband="2.60.01", wifi="a4:cf:99:3e:51:0c",
        bt="a4:cf:99:3e:2a:7f", disk=disk(256, 181.4), gg_full=96, expect_health=96,
        bat=dict(design=3274, nominal=3143, raw_max=3161, cycles=180, temp=2950, volt=3987,
                 amp=-312, pct=71, charging=False, chemid=30241, serial="F8Y3285LBWQ1JHPAX"))
    P["worn-battery-11"] = dict(
        product="iPhone12,1", hwmodel="N104AP", platform="t8030", soc="8030", cpid=0x8030,
        bdid=0x04, ecid=0x001A35E21A05802E, serial="F17ZD1QRN72J", ios="16.7.2",
        name="Mia's iPhone", host="Mias-iPhone", model_number="MWLT2",
        iboot="iBoot-8422.142.2.700.1", baseband="5.02.02", wifi="f0:98:9d:21:4b:e3",
        bt="f0:98:9d:21:60:01", disk=disk(64, 6.2), gg_full=100, expect_health=77,
        bat=dict(design=3110, nominal=2380, raw_max=2402, cycles=720, temp=3120, volt=3811,
                 amp=-498, pct=34, charging=False, chemid=12891, serial="F5D9347R3AHLTLVA6"))
    P["thermal-loop-12"] = dict(
        product="iPhone13,2", hwmodel="D53gAP", platform="t8101", soc="8101", cpid=0x8101,
        bdid=0x0C, ecid=0x0016244A1E90003A, serial="G6TDL0QW0D8Y", ios="17.1.2",
        name="Leon's iPhone", host="Leons-iPhone", model_number="MGJ53",
        iboot="iBoot-10151.42.2", baseband="4.01.01", wifi="3c:06:30:7a:c2:15",
        bt="3c:06:30:7a:d9:44", disk=disk(128, 41.7), gg_full=93, expect_health=93,
        bat=dict(design=2815, nominal=2601, raw_max=2633, cycles=410, temp=3270, volt=3902,
                 amp=-402, pct=58, charging=False, chemid=22411, serial="F8Y0516C1LKQ4N7B2"))
    P["smc-14"] = dict(
        product="iPhone14,7", hwmodel="D27AP", platform="t8110", soc="8110", cpid=0x8110,
        bdid=0x18, ecid=0x000C39D20A78801E, serial="K2VRJ7X3HQ4M", ios="17.6.1",
        name="Amira's iPhone", host="Amiras-iPhone", model_number="MPUF3",
        iboot="iBoot-10151.142.2", baseband="2.50.04", wifi="bc:d0:74:19:e6:2a",
        bt="bc:d0:74:19:f0:8d", disk=disk(128, 63.0), gg_full=91, expect_health=91,
        bat=dict(design=3279, nominal=2961, raw_max=2990, cycles=297, temp=3040, volt=3946,
                 amp=-287, pct=64, charging=False, chemid=31077, serial="F8Y2491P7DMQ1HK3C"))
    P["locked-13"] = dict(
        product="iPhone14,5", hwmodel="D17AP", platform="t8110", soc="8110", cpid=0x8110,
        bdid=0x0A, ecid=0x001E6D4A3C29002E, serial="MQ9W2TJ6LX1C", ios="17.4.1",
        name="Customer iPhone", host="Customer-iPhone", model_number="MLPF3",
        iboot="iBoot-10151.102.3", baseband="3.50.03", wifi="58:d3:49:0e:7b:11",
        bt="58:d3:49:0e:90:26", disk=disk(128, 72.9), gg_full=89, expect_health=89,
        bat=dict(design=3227, nominal=2859, raw_max=2884, cycles=351, temp=2890, volt=3928,
                 amp=-265, pct=80, charging=False, chemid=29012, serial="F8Y1374K9PLMQ2HX1"),
        locked=True, behaviour={"PasscodeLocked": True})
    P["unpaired-se"] = dict(
        product="iPhone12,8", hwmodel="D79AP", platform="t8030", soc="8030", cpid=0x8030,
        bdid=0x10, ecid=0x0009284B7C11402E, serial="FFMDT4Q7PLJN", ios="15.8",
        name="iPhone", host="iPhone", model_number="MX9R2",
        iboot="iBoot-7459.140.15.0.1", baseband="3.03.07", wifi="14:7d:da:6c:22:b8",
        bt="14:7d:da:6c:39:e0", disk=disk(64, 22.3), gg_full=100, expect_health=85,
        bat=dict(design=1821, nominal=1541, raw_max=1560, cycles=503, temp=2810, volt=3874,
                 amp=412, pct=47, charging=True, chemid=11201, serial="F5D0221J6KGQ3LM2B"),
        behaviour={"Paired": False})
    P["trust-pending-xr"] = dict(
        product="iPhone11,8", hwmodel="N841AP", platform="t8020", soc="8020", cpid=0x8020,
        bdid=0x0C, ecid=0x001C49E83A21002E, serial="DX3XK8PLKXKN", ios="17.6.1",
        name="iPhone", host="iPhone", model_number="MT122",
        iboot="iBoot-10151.142.2", baseband="6.02.01", wifi="d0:c5:f3:8a:14:5e",
        bt="d0:c5:f3:8a:2b:77", disk=disk(64, 18.9), gg_full=88, expect_health=88,
        bat=dict(design=2942, nominal=2583, raw_max=2611, cycles=389, temp=2990, volt=3899,
                 amp=-233, pct=66, charging=False, chemid=9871, serial="F5D1185Q4HKLMX7C1"),
        behaviour={"Paired": False, "TrustPending": True})
    return P


def crashes_for(name, p):
    files = []
    b = "%s (%s)" % (p["ios"], BUILDS[p["ios"]])
    bl = BUILDS[p["ios"]]
    if name == "healthy-15pro":
        files.append(ips(p, "151", "ForceReset-full-2026-11-12-083015.000.ips",
                         "2026-11-12 08:30:15", "+0100", "5B2E1C7A-3D4F-4E8B-9A1C-2F3E4D5C6B7A",
                         "7d3c9f1a0b2e4c6d8e0f1a2b3c4d5e6f7a8b9c0d",
                         {"string": panic_text(p, 1, 0xfffffff0278c4b20, "btn_rst", bl,
                                               task="pid 0: kernel_task"),
                          "panicFlags": "0x0"}))
        jet = {"bug_type": "298", "timestamp": "2026-11-19 14:15:02.00 +0100",
               "os_version": "iPhone OS " + b, "incident_id": "0E4D3C2B-1A09-4F8E-B7D6-C5B4A3928170"}
        body = {"crashReporterKey": "7d3c9f1a0b2e4c6d8e0f1a2b3c4d5e6f7a8b9c0d", "product": p["product"],
                "build": "iPhone OS " + b, "date": "2026-11-19 14:15:02.11 +0100",
                "largestProcess": "com.apple.WebKit.WebContent", "memoryStatus": {"pageSize": 16384},
                "processes": [{"name": "com.apple.WebKit.WebContent", "rpages": 61234,
                               "reason": "per-process-limit", "pid": 2231}]}
        files.append(("Retired/JetsamEvent-2026-11-19-141502.ips",
                      (json.dumps(jet, separators=(",", ":")) + "\n" + json.dumps(body, indent=2) + "\n").encode()))
    elif name == "worn-battery-11":
        jet = {"bug_type": "298", "timestamp": "2026-11-21 18:02:47.00 +0100",
               "os_version": "iPhone OS " + b, "incident_id": "3A1B2C3D-4E5F-4061-8273-94A5B6C7D8E9"}
        body = {"crashReporterKey": "1f2e3d4c5b6a79880a9b8c7d6e5f4a3b2c1d0e9f", "product": p["product"],
                "build": "iPhone OS " + b, "date": "2026-11-21 18:02:47.31 +0100",
                "largestProcess": "com.burbn.instagram", "memoryStatus": {"pageSize": 16384},
                "processes": [{"name": "com.burbn.instagram", "rpages": 48211,
                               "reason": "per-process-limit", "pid": 1877}]}
        files.append(("JetsamEvent-2026-11-21-180247.ips",
                      (json.dumps(jet, separators=(",", ":")) + "\n" + json.dumps(body, indent=2) + "\n").encode()))
    elif name == "thermal-loop-12":
        when = [("2026-11-18", "074213", 4, 0xfffffff02a3bc8e4), ("2026-11-19", "130551", 2, 0xfffffff02a3bc8e4),
                ("2026-11-20", "221709", 0, 0xfffffff02a3bc8e4), ("2026-11-21", "083340", 5, 0xfffffff02a3bc8e4)]
        for i, (day, hms, cpu, caller) in enumerate(when):
            msg = ("userspace watchdog timeout: no successful checkins from thermalmonitord in 180 seconds\n"
                   "service: thermalmonitord, total successful checkins: 0 (in 180 seconds)\n"
                   "service: SpringBoard, total successful checkins since wake (%d seconds ago): 18, last successful checkin: 0 seconds ago\n"
                   "service: backboardd, total successful checkins since wake (%d seconds ago): 18, last successful checkin: 0 seconds ago\n"
                   "SD: 0 BC: 1 RC: 0 BS: 1, Missing sensor(s): prs0 @userspace_watchdog.c:43" % (181 + i, 181 + i))
            date = "%s %s:%s:%s" % (day, hms[0:2], hms[2:4], hms[4:6])
            files.append(ips(p, "210", "panic-full-%s-%s.000.ips" % (day, hms), date, "+0100",
                             "A%d1C2E3F-5B6D-4E7F-8091-A2B3C4D5E6F%d" % (i, i),
                             "c0ffee1234567890abcdef0123456789abcdef01",
                             {"panicString": panic_text(p, cpu, caller, msg, bl,
                                                        task="pid 1: launchd")}))
    elif name == "smc-14":
        when = [("2026-11-19", "161204", 0xfffffff0276a2f40), ("2026-11-20", "091533", 0xfffffff0276a2f40),
                ("2026-11-21", "194850", 0xfffffff0276a2f40)]
        for i, (day, hms, caller) in enumerate(when):
            msg = ("SMC PANIC - ASSERT FAILED @/AppleInternal/Library/BuildRoots/4~B6hwugAX/Library/Caches/"
                   "com.apple.xbs/Sources/SMCFirmware/platform/common/sensor_array.c:1288 - "
                   "sensor array 0x100000 not responding\n"
                   "RTKit: RTKit-2413.140.6.release - Client: iphone14smc.RELEASE\n"
                   "!UUID: 8C1D3E2F-7A6B-3C5D-9E8F-0A1B2C3D4E5F\nTime: 0x00000004a2b3c4d5\n"
                   "Faulting task stack frame:\n  pc=0x00000000 Exception class=0x0 (Unknown reason)\n")
            date = "%s %s:%s:%s" % (day, hms[0:2], hms[2:4], hms[4:6])
            files.append(ips(p, "210", "panic-full-%s-%s.000.ips" % (day, hms), date, "+0100",
                             "D%d4E5F60-7182-4A3B-9C4D-5E6F7A8B9C0%d" % (i, i),
                             "be11a5ba9e0d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
                             {"panicString": panic_text(p, 0, caller, msg, bl)}))
        # 30 days before the bench day: a software-looking panic that trees must age out.
        files.append(ips(p, "210", "panic-full-2026-10-23-111402.000.ips", "2026-10-23 11:14:02", "+0200",
                         "E14F2A3B-6C7D-4E8F-9A0B-1C2D3E4F5A6B", "be11a5ba9e0d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
                         {"panicString": panic_text(p, 3, 0xfffffff02481a5c0,
                                                    "Kernel data abort. at pc 0xfffffff0249f3b10, lr 0xfffffff0249f3a44 (saved state: 0xffffffeb42c37290)",
                                                    bl, task="pid 412: MobileSafari")}))
        # A legacy .plist report (what `idevicecrashreport -e` extracts the description from).
        legacy = {"bug_type": "110", "name": "panic-base", "os_version": "iPhone OS " + b,
                  "timestamp": "2026-11-17 22:41:09 +0100", "system_ID": p["serial"],
                  "description": ("Incident Identifier: 2F3E4D5C-6B7A-4980-A1B2-C3D4E5F60718\n"
                                  "CrashReporter Key:   be11a5ba9e0d8c7b6a5f4e3d2c1b0a9f8e7d6c5b\n"
                                  "Hardware Model:      %s\nDate/Time:           2026-11-17 22:41:09 +0100\n"
                                  "OS Version:          iPhone OS %s\n\n" % (p["product"], b) +
                                  panic_text(p, 0, 0xfffffff0276a2f40,
                                             "SMC PANIC - ASSERT FAILED @sensor_array.c:1288 - sensor array 0x100000 not responding",
                                             bl))}
        files.append(("panic-base-2026-11-17-224109.plist", plistlib.dumps(legacy)))
    elif name == "locked-13":
        jet = {"bug_type": "298", "timestamp": "2026-11-20 12:00:31.00 +0100",
               "os_version": "iPhone OS " + b, "incident_id": "6A7B8C9D-0E1F-4A2B-8C3D-4E5F6A7B8C9D"}
        body = {"crashReporterKey": "0badc0de0badc0de0badc0de0badc0de0badc0de", "product": p["product"],
                "build": "iPhone OS " + b, "date": "2026-11-20 12:00:31.02 +0100",
                "largestProcess": "com.apple.mobileslideshow", "memoryStatus": {"pageSize": 16384},
                "processes": [{"name": "com.apple.mobileslideshow", "rpages": 52310,
                               "reason": "vm-pageshortage", "pid": 951}]}
        files.append(("JetsamEvent-2026-11-20-120031.ips",
                      (json.dumps(jet, separators=(",", ":")) + "\n" + json.dumps(body, indent=2) + "\n").encode()))
    elif name == "unpaired-se":
        pass
    return files


def logs_for(name, p):
    h = p["host"]
    e = list(COMMON_LOG)
    if name == "worn-battery-11":
        e += [("10:00:05", "powerd[51]", "Notice", "BatteryHealth: NominalChargeCapacity 2380 mAh, DesignCapacity 3110 mAh, CycleCount 720"),
              ("10:00:05", "powerd[51]", "Error", "BatteryHealth: maximum capacity 77% below 80%, service recommended (kBHSvcFlagNCC)"),
              ("10:00:06", "powerd[51]", "Notice", "Peak performance capability reduced: unexpected shutdown at 19% on 2026-11-20, performance management applied"),
              ("10:00:07", "kernel[0]", "Notice", "AppleSmartBattery: UPO detected, voltage sag 3312 mV under load"),
              ("10:00:08", "UserEventAgent(com.apple.thermalmonitor)[28]", "Notice", "Battery temperature 31.2 C, within limits")]
    elif name == "thermal-loop-12":
        e = [("10:00:00", "kernel[0]", "Notice", "AppleARMPMU: boot after panic, previous boot ended by watchdog"),
             ("10:00:01", "thermalmonitord[112]", "Error", "Sensor prs0 not found, cannot start pressure/temperature channel"),
             ("10:00:01", "thermalmonitord[112]", "Error", "Missing sensor(s): prs0; watchdog checkin will fail")] + e
    elif name == "smc-14":
        e = [("10:00:00", "kernel[0]", "Notice", "AppleSMC: previous shutdown cause -112 (SMC panic)"),
             ("10:00:01", "kernel[0]", "Error", "AppleSMCSensorDispatcher: sensor array 0x100000 not responding")] + e
    elif name == "unpaired-se":
        e += [("10:00:05", "lockdownd[78]", "Notice", "_receive_message: pairing record missing for host, asking user to trust")]
    e += [("10:00:09", "backboardd[67]", "Notice", "Display brightness 0.41 (auto)"),
          ("10:00:10", "SpringBoard(SpringBoardHome)[61]", "Notice", "Icon layout saved")]
    return syslog(h, e)


def main():
    for name, p in profiles().items():
        d = os.path.join(HERE, name)
        doc = device_plist(name, p)
        os.makedirs(d, exist_ok=True)
        shutil.rmtree(os.path.join(d, "crashes"), ignore_errors=True)
        os.makedirs(os.path.join(d, "crashes"))
        with open(os.path.join(d, "device.plist"), "wb") as f:
            plistlib.dump(doc, f, fmt=plistlib.FMT_XML, sort_keys=False)
        with open(os.path.join(d, "syslog.txt"), "w") as f:
            f.write(logs_for(name, p))
        files = crashes_for(name, p)
        # No reports: git keeps no empty folder, and the emulator serves a missing crashes/
        # as an empty one, like a phone with nothing to report.
        for fname, data in files:
            os.makedirs(os.path.dirname(os.path.join(d, "crashes", fname)), exist_ok=True)
            with open(os.path.join(d, "crashes", fname), "wb") as f:
                f.write(data)
        print("%-16s %s" % (name, doc["Lockdown"]["Root"]["UniqueDeviceID"]))


if __name__ == "__main__":
    sys.exit(main())
