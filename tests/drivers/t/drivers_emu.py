#!/usr/bin/env python3
"""Whole-snapshot tests of the drivers: benchctl against idevice-emu (and umockdev for USB-level
devices). One case per ctest entry; each starts its own emulator on a UNIX socket in a fresh
temp dir and removes it. Expected values are computed from the profile files, not copied.

usage: drivers_emu.py --benchctl PATH --emu PATH --src SRCDIR CASE
"""
import argparse
import json
import math
import os
import plistlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

A = None
TMP = None
FAILS = []

UDID = {
    'healthy': '00008130-000A1C2E3B4D801E',
    'locked': '00008110-001E6D4A3C29002E',
    'smc': '00008110-000C39D20A78801E',
    'thermal': '00008101-0016244A1E90003A',
    'unpaired': '00008030-0009284B7C11402E',
    'worn': '00008030-001A35E21A05802E',
}
UMOCK_ENV = {'ASAN_OPTIONS': 'verify_asan_link_order=0:detect_leaks=0'}


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print('FAIL:', what)
    return cond


def bundled(name):
    return os.path.join(A.src, 'tests', 'profiles', name)


def mine(name):
    return os.path.join(A.src, 'tests', 'drivers', 'profiles', name)


def profile_plist(pdir):
    with open(os.path.join(pdir, 'device.plist'), 'rb') as f:
        return plistlib.load(f)


def udid_of(pdir):
    return profile_plist(pdir)['Lockdown']['Root']['UniqueDeviceID']


class Emu:
    def __init__(self, profiles, verbose=False):
        self.sock = os.path.join(TMP, 'mux.sock')
        self.ctl = os.path.join(TMP, 'ctl.sock')
        self.log = open(os.path.join(TMP, 'emu.log'), 'w')
        self.p = subprocess.Popen([A.emu, '--socket', self.sock, '--control', self.ctl]
                                  + (['--verbose'] if verbose else []) + profiles,
                                  stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise SystemExit('idevice-emu exited: ' + open(os.path.join(TMP, 'emu.log')).read())
            with open(os.path.join(TMP, 'emu.log')) as f:
                if 'ready' in f.read() and os.path.exists(self.sock):
                    return
            time.sleep(0.05)
        raise SystemExit('idevice-emu did not get ready in 20 s')

    def control(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.ctl)
        s.sendall((line + '\n').encode())
        s.settimeout(5)
        r = s.recv(4096).decode()
        s.close()
        return r

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


def env_for(emu, extra=None):
    e = dict(os.environ)
    e['USBMUXD_SOCKET_ADDRESS'] = 'UNIX:' + (emu.sock if emu else os.path.join(TMP, 'no-such.sock'))
    e['BENCHD_STATE_DIR'] = os.path.join(TMP, 'state')
    if extra:
        e.update(extra)
    return e


def benchctl(emu, args, timeout=40, umockdev=None, extra_env=None):
    cmd = [A.benchctl] + args
    env = env_for(emu, extra_env)
    if umockdev:
        env.update(UMOCK_ENV)
        pre = ['umockdev-run']
        for d in umockdev:
            pre += ['-d', os.path.join(A.src, 'tests', 'drivers', 'usb', d)]
        cmd = pre + ['--'] + cmd
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout)
    dt = time.time() - t0
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace'), dt


def snapshot(emu, udid, secs=1, extra=None, timeout=40, **kw):
    out = os.path.join(TMP, 'snap-%s.json' % time.time())
    rc, so, se, dt = benchctl(emu, ['snapshot', '--udid', udid, '--syslog-seconds', str(secs), '--out', out]
                              + (extra or []), timeout=timeout, **kw)
    snap = None
    if os.path.exists(out):
        with open(out) as f:
            snap = json.load(f)
    return rc, snap, se, dt


def err_for(snap, probe):
    return [e['reason'] for e in snap.get('errors', []) if e['probe'] == probe]


def expect_battery(snap, pdir):
    """The normalised battery must be what the formulas give on the profile's own values."""
    e = profile_plist(pdir)['IORegistry']['AppleSmartBattery']
    b = snap['battery']
    check(b['source'] == 'AppleSmartBattery', 'battery source')
    check(b['design_capacity_mah'] == e['DesignCapacity'], 'design capacity')
    check(b['nominal_capacity_mah'] == e['NominalChargeCapacity'], 'nominal capacity')
    check(b['health_pct'] == math.ceil(e['NominalChargeCapacity'] * 100 / e['DesignCapacity']),
          'health_pct = ceil(nominal/design*100): %s' % b.get('health_pct'))
    check(abs(b['temperature_c'] - e['Temperature'] / 100) < 1e-9, 'temperature_c = Temperature/100')
    check(b['amperage_ma'] == e.get('InstantAmperage', e.get('Amperage')), 'signed amperage %s' % b.get('amperage_ma'))
    check(b['cycle_count'] == e['CycleCount'], 'cycle count')
    check(b['voltage_mv'] == e['Voltage'], 'voltage')
    check(b['is_charging'] == e['IsCharging'], 'is_charging')
    check(b['flags'] == [], 'no battery flags: %s' % b['flags'])


def expect_common(snap, pdir):
    p = profile_plist(pdir)
    root = p['Lockdown']['Root']
    d = snap['device']
    check(snap['schema'] == 'benchd.snapshot/1', 'schema')
    check(snap['captured_at'].endswith('Z') and 'T' in snap['captured_at'], 'captured_at RFC 3339')
    check(d['udid'] == root['UniqueDeviceID'], 'udid')
    check(d['serial'] == root['SerialNumber'], 'serial')
    check(d['product_type'] == root['ProductType'], 'product_type')
    check(d['ios_version'] == root['ProductVersion'], 'ios_version')
    check(d['build_version'] == root['BuildVersion'], 'build_version')
    check(d['ecid'] == '0x%X' % root['UniqueChipID'], 'ecid %s' % d.get('ecid'))
    check(d['mode'] == 'normal', 'mode normal')
    check(d['usb']['product_id'] == p.get('ProductID', 0x12a8), 'usb product id')
    models = json.load(open(os.path.join(A.src, 'diag-trees', 'models.json')))['models']
    if root['ProductType'] in models:
        check(d['model_name'] == models[root['ProductType']]['name'], 'model name from models.json')
    du = p['Lockdown']['com.apple.disk_usage']
    check(snap['storage']['total_bytes'] == du['TotalDiskCapacity'], 'storage total')
    check(snap['storage']['available_bytes'] == du['TotalDataAvailable'], 'storage available')
    check(snap['raw']['lockdown']['Root']['UniqueDeviceID'] == root['UniqueDeviceID'], 'raw Root kept')
    check('com.apple.mobile.battery' in snap['raw']['lockdown'], 'raw battery domain')


def crash_files(pdir):
    base = os.path.join(pdir, 'crashes')
    out = {}
    for dp, dn, fn in os.walk(base):
        for f in fn:
            full = os.path.join(dp, f)
            out[os.path.relpath(full, base)] = full
    return out


# ------------------------------------------------------------------ cases

def case_thermal():
    # a copy without Clock/CrashDatesAsOf: the reports must arrive byte for byte as on disk
    pdir = os.path.join(TMP, 'thermal-loop-12')
    shutil.copytree(bundled('thermal-loop-12'), pdir)
    pl = os.path.join(pdir, 'device.plist')
    with open(pl, 'rb') as f:
        d = plistlib.load(f)
    d.pop('Clock', None)
    with open(pl, 'wb') as f:
        plistlib.dump(d, f)
    emu = Emu([pdir], verbose=True)
    cdir = os.path.join(TMP, 'crashes')
    rc, snap, se, dt = snapshot(emu, UDID['thermal'], secs=1, extra=['--crash-dir', cdir])
    emu.stop()
    elog = open(os.path.join(TMP, 'emu.log')).read()
    check(elog.count('lockdown: session') == 1, 'one lockdown session (one TLS handshake) for every probe: %d'
          % elog.count('lockdown: session'))
    check(rc == 0, 'exit 0, got %d: %s' % (rc, se))
    expect_common(snap, pdir)
    expect_battery(snap, pdir)
    check(snap['device']['lockdown'] == 'ok', 'lockdown ok')
    check(snap['probes'] == ['info', 'battery', 'diagnostics', 'syslog', 'crashes'], 'probes %s' % snap['probes'])
    check(snap['errors'] == [], 'no errors: %s' % snap['errors'])
    for k in ('GasGauge', 'NAND', 'WiFi'):
        check(isinstance(snap['raw']['diagnostics'].get(k), dict), 'raw diagnostics ' + k)
    check('AppleSmartBattery' in snap['raw']['ioregistry'], 'raw ioregistry kept')
    files = crash_files(pdir)
    check(len(snap['crashes']) == len(files), 'every report parsed: %d of %d' % (len(snap['crashes']), len(files)))
    for c in snap['crashes']:
        check(c['bug_type'] == '210' and c['format'] == 'ips', 'panic %s' % c['name'])
        check(c['product'] == 'iPhone13,2', 'product from the body')
        check(c['timestamp'].startswith('2026-11-') and c['timestamp'].endswith('Z'), 'timestamp %s' % c['timestamp'])
        check('thermalmonitord' in c['panic_string'] and 'prs0' in c['panic_string'], 'panicString')
        check(c['truncated'] is False and c['size'] == os.path.getsize(files[c['name']]), 'size')
        # copied byte for byte
        with open(os.path.join(cdir, c['name']), 'rb') as a, open(files[c['name']], 'rb') as b:
            check(a.read() == b.read(), 'crash copy identical: ' + c['name'])
    lines = [l for l in open(os.path.join(pdir, 'syslog.txt'), encoding='utf-8').read().split('\n') if l]
    check(snap['syslog']['log'] == lines, 'syslog lines as sent, split on the real framing')
    check(snap['syslog']['lines'] == len(lines) and snap['syslog']['seconds'] == 1, 'syslog counts')
    check(any(s['count'] >= 1 for s in snap['syslog']['signatures']), 'syslog signatures filled by the engine scanner')
    check('reading crash reports %d/%d' % (len(files), len(files)) in se, 'progress lines on stderr')
    check(dt < 15, 'took %.1f s' % dt)


def case_healthy():
    pdir = bundled('healthy-15pro')
    emu = Emu([pdir])
    rc, snap, se, _ = snapshot(emu, UDID['healthy'], secs=0)
    emu.stop()
    check(rc == 0, 'exit 0: %s' % se)
    expect_common(snap, pdir)
    expect_battery(snap, pdir)
    check('syslog' not in snap['probes'] and 'syslog' not in snap, '--syslog-seconds 0 skips syslog')
    names = {c['name']: c for c in snap['crashes']}
    fr = [c for c in snap['crashes'] if c['bug_type'] == '151']
    check(len(fr) == 1 and fr[0]['panic_string'].rstrip().split('\n')[0].endswith('btn_rst'),
          'force reset text from "string"')
    check(any(n.startswith('Retired/') for n in names), 'subfolders walked: %s' % list(names))


def case_smc():
    pdir = bundled('smc-14')
    emu = Emu([pdir])
    rc, snap, se, _ = snapshot(emu, UDID['smc'], secs=0)
    emu.stop()
    check(rc == 0, 'exit 0: %s' % se)
    legacy = [c for c in snap['crashes'] if c['format'] == 'plist']
    check(len(legacy) == 1 and 'SMC PANIC' in legacy[0]['panic_string'], 'legacy plist report: description')
    check(legacy and legacy[0]['timestamp'].endswith('Z'), 'legacy timestamp')
    check(sum(1 for c in snap['crashes'] if c['bug_type'] == '210') == 4, 'four .ips panics')


def case_locked():
    pdir = bundled('locked-13')
    emu = Emu([pdir])
    rc, snap, se, dt = snapshot(emu, UDID['locked'], secs=1)
    emu.stop()
    check(rc == 4, 'exit 4 for a locked device, got %d' % rc)
    check('device is locked: unlock it and try again' in se, 'technician words on stderr: %r' % se)
    check(snap is not None and snap['device']['lockdown'] == 'locked', 'snapshot says locked')
    check(snap['device'].get('product_type') == 'iPhone14,5', 'what lockdown still answers is kept')
    for p in ('battery', 'diagnostics', 'syslog', 'crashes'):
        check(any('locked' in r for r in err_for(snap, p)), 'error entry for ' + p)
    check('battery' not in snap and 'crashes' not in snap, 'no readings invented')
    check(dt < 10, 'locked answer is quick (%.1f s)' % dt)


def case_unpaired():
    pdir = bundled('unpaired-se')
    emu = Emu([pdir])
    rc, snap, se, _ = snapshot(emu, UDID['unpaired'], secs=0)
    emu.stop()
    check(rc == 0, 'an unpaired device that accepts pairing is read: %d %s' % (rc, se))
    expect_battery(snap, pdir)
    check(snap['battery']['amperage_ma'] > 0 and snap['battery']['is_charging'] is True, 'charging, positive amperage')
    check(snap['crashes'] == [], 'no crash folder: empty list')


def case_trust_pending():
    pdir = mine('trust-pending')
    emu = Emu([pdir])
    rc, snap, se, _ = snapshot(emu, udid_of(pdir), secs=0)
    emu.stop()
    check(rc == 5, 'exit 5 while the Trust dialog waits, got %d' % rc)
    check('tap Trust on the device' in se, 'technician words: %r' % se)
    check(snap is not None and snap['device']['lockdown'] == 'pairing-pending', 'snapshot says pairing-pending')
    check(snap['device'].get('model_name') == 'iPhone SE (2nd generation)', 'model named without a session')
    check(snap['errors'] and 'tap Trust' in snap['errors'][0]['reason'], 'errors say why')


def case_hostile_crashes():
    src = mine('hostile-crashes')
    pdir = os.path.join(TMP, 'hostile-crashes')
    shutil.copytree(src, pdir)
    big = 2 * 1024 * 1024
    with open(os.path.join(pdir, 'crashes', 'panic-full-2026-11-21-090000.000.ips'), 'wb') as f:
        f.write(b'{"bug_type":"210","timestamp":"2026-11-21 09:00:00.00 +0000"}\n')
        f.write(b'{"product":"iPhone13,2","panicString":"panic(cpu 0 caller 0x1): ' + b'P' * big + b'"}')
    emu = Emu([pdir])
    cdir = os.path.join(TMP, 'crashes')
    rc, snap, se, dt = snapshot(emu, udid_of(pdir), secs=1, extra=['--crash-dir', cdir])
    emu.stop()
    check(rc == 0, 'exit 0: %s' % se)
    check(snap['errors'] == [], 'junk is not an error: %s' % snap['errors'])
    by = {c['name']: c for c in snap['crashes']}
    b = by.get('panic-full-2026-11-21-090000.000.ips')
    check(b is not None and b['truncated'] is True and len(b['panic_string'].encode()) <= 65536
          and b['size'] > big, '2 MB panic string cut to 64 KiB and flagged')
    check(b and b['panic_string'].startswith('panic(cpu 0'), 'big panic still readable')
    check(os.path.getsize(os.path.join(cdir, 'panic-full-2026-11-21-090000.000.ips')) > big, 'big report copied whole to disk')
    check(by.get('text-body.ips', {}).get('format') == 'ips-text', 'header + text body')
    check('sub dir/panic with spaces.ips' in by, 'names with spaces in subfolders')
    skipped = {s['name']: s['reason'] for s in snap['raw'].get('crashes_skipped', [])}
    for n in ('junk.txt', '.DS_Store', 'garbage.ips', 'empty.ips', 'bad-header.ips'):
        check(n in skipped, 'junk %s skipped with a note' % n)
    check(any('too deep' in r for r in skipped.values()), 'folders nested too deep are not followed')
    check(all(n not in by for n in ('junk.txt', '.DS_Store', 'garbage.ips', 'empty.ips')), 'junk not in crashes')
    log = snap['syslog']['log']
    check(all(len(l.encode()) <= 16 * 1024 + 4 for l in log), 'syslog lines bounded')
    check(any('\ufffd' in l for l in log), 'invalid UTF-8 replaced, line kept')
    check(log[-1].endswith('after the long one'), 'framing survives a 40 KB line')


def case_hostile_battery():
    pdir = mine('hostile-battery')
    emu = Emu([pdir])
    rc, snap, se, _ = snapshot(emu, udid_of(pdir), secs=0, extra=['--probe', 'battery'])
    emu.stop()
    check(rc == 0, 'exit 0: %s' % se)
    b = snap['battery']
    for f in ('design_capacity_invalid', 'cycle_count_invalid', 'temperature_invalid', 'voltage_invalid'):
        check(f in b['flags'], 'flag ' + f)
    for k in ('design_capacity_mah', 'health_pct', 'cycle_count', 'temperature_c', 'voltage_mv'):
        check(k not in b, 'no trusted %s from nonsense' % k)
    raw = snap['raw']['ioregistry']['AppleSmartBattery']
    check(raw['DesignCapacity'] == 0 and raw['CycleCount'] == -5 and raw['Temperature'] == 99999, 'raw kept as read')
    check(snap['probes'] == ['info', 'battery'], '--probe limits the probes')
    check('crashes' not in snap, 'crashes not read when not asked')


def case_old_model():
    pdir = mine('old-model')
    emu = Emu([pdir])
    rc, snap, se, _ = snapshot(emu, udid_of(pdir), secs=0, extra=['--probe', 'battery'])
    emu.stop()
    check(rc == 0, 'exit 0: %s' % se)
    b = snap['battery']
    check(b['source'] == 'AppleARMPMUCharger', 'fell back to AppleARMPMUCharger: %s' % b.get('source'))
    check(b['health_pct'] == math.ceil(1700 * 100 / 1960) and b['cycle_count'] == 640, 'old gauge values')
    check(snap['device']['product_type'] == 'iPhone9,3' and 'model_name' not in snap['device'],
          'unknown model: product type kept, no invented name')


def case_no_gauge():
    pdir = mine('no-gauge')
    emu = Emu([pdir])
    rc, snap, se, _ = snapshot(emu, udid_of(pdir), secs=0, extra=['--probe', 'battery'])
    emu.stop()
    check(rc == 0, 'exit 0: %s' % se)
    check(snap['battery']['flags'] == ['gauge_missing'], 'gauge_missing: %s' % snap['battery'])
    check('health_pct' not in snap['battery'], 'no health without a gauge')


def case_huge_syslog():
    pdir = os.path.join(TMP, 'huge')
    shutil.copytree(bundled('thermal-loop-12'), pdir)
    with open(os.path.join(pdir, 'syslog.txt'), 'w') as f:
        for i in range(22000):
            f.write('Nov 22 10:00:01 iPhone spam[%d] <Notice>: line %d\n' % (i, i))
    emu = Emu([pdir])
    rc, snap, se, dt = snapshot(emu, UDID['thermal'], secs=3, extra=['--probe', 'syslog'])
    emu.stop()
    check(rc == 0, 'exit 0: %s' % se)
    s = snap['syslog']
    check(s['truncated'] is True and len(s['log']) == 20000, 'cut to 20,000 lines: %d' % len(s['log']))
    check(s['lines'] >= 20000, 'lines counted: %d' % s['lines'])
    check(s['log'][0].endswith('line 0') and s['log'][-1].endswith('line 19999'), 'first lines kept in order')


def disconnect_case(stage, probe_lost, others):
    pdir = mine('disc-' + stage)
    emu = Emu([pdir])
    rc, snap, se, dt = snapshot(emu, udid_of(pdir), secs=1)
    emu.stop()
    check(dt < 20, 'no hang: %.1f s' % dt)
    if stage == 'handshake':
        check(rc == 3, 'exit 3 when the handshake is cut, got %d' % rc)
        check('handshake' in se and len(se.strip().split('\n')) <= 3, 'one clear line: %r' % se)
        return
    check(rc == 0, 'snapshot still made: %d %s' % (rc, se))
    for p in probe_lost:
        r = err_for(snap, p)
        check(r and ('dropped the connection' in r[0] or 'unplugged' in r[0]), '%s error says why: %s' % (p, r))
    for p in others:
        check(p in snap and not err_for(snap, p), '%s still recorded' % p)


def case_disc_handshake():
    disconnect_case('handshake', [], [])


def case_disc_diagnostics():
    disconnect_case('diagnostics', ['battery', 'diagnostics'], ['syslog', 'crashes', 'storage'])


def case_disc_syslog():
    disconnect_case('syslog', ['syslog'], ['battery', 'crashes', 'storage'])


def case_disc_afc():
    disconnect_case('afc', ['crashes'], ['battery', 'syslog', 'storage'])


def case_port_zero():
    """A device that 'starts' every service but gives port 0: each service probe fails with a
    clear reason, the lockdown readings still count, nothing crashes or hangs."""
    pdir = mine('port-zero')
    emu = Emu([pdir])
    rc, snap, se, dt = snapshot(emu, udid_of(pdir), secs=1)
    emu.stop()
    check(dt < 20, 'no hang: %.1f s' % dt)
    check(rc == 0, 'snapshot still made: %d %s' % (rc, se))
    for p in ('battery', 'syslog', 'crashes'):
        r = err_for(snap, p)
        check(r and 'gave no port' in r[0], '%s error says the device gave no port: %s' % (p, r))
    check(snap.get('device', {}).get('product_type') == 'iPhone13,2' and 'storage' in snap,
          'lockdown readings still recorded')


def case_unplug_mid_read():
    pdir = bundled('thermal-loop-12')
    emu = Emu([pdir])
    out = os.path.join(TMP, 'unplug.json')
    env = env_for(emu)
    p = subprocess.Popen([A.benchctl, 'snapshot', '--udid', UDID['thermal'], '--syslog-seconds', '4',
                          '--out', out], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    r = emu.control('detach ' + UDID['thermal'])
    t0 = time.time()
    so, se = p.communicate(timeout=30)
    dt = time.time() - t0
    emu.stop()
    se = se.decode()
    check(r.startswith('ok'), 'control detach: %r' % r)
    check(p.returncode == 3, 'exit 3 when unplugged mid-read, got %d' % p.returncode)
    check('unplugged' in se, 'stderr says unplugged: %r' % se)
    check(dt < 10, 'ends promptly after the unplug (%.1f s)' % dt)
    snap = json.load(open(out))
    check('battery' in snap and 'storage' in snap, 'what was read before the unplug is kept')
    check(any('unplugged' in r for r in err_for(snap, 'syslog')), 'syslog error: %s' % snap['errors'])
    check(err_for(snap, 'crashes'), 'crashes not read, with a reason')


def case_crashes_kept():
    pdir = bundled('thermal-loop-12')
    emu = Emu([pdir])
    rc1, s1, _, _ = snapshot(emu, UDID['thermal'], secs=0, extra=['--probe', 'crashes'])
    rc2, s2, _, _ = snapshot(emu, UDID['thermal'], secs=0, extra=['--probe', 'crashes'])
    # the stock tool, keeping files (-k), lists what is still on the device after our two reads
    kdir = os.path.join(TMP, 'stock')
    os.makedirs(kdir)
    p = subprocess.run(['idevicecrashreport', '-k', '-u', UDID['thermal'], kdir], env=env_for(emu),
                       capture_output=True, timeout=30)
    emu.stop()
    n = len(crash_files(pdir))
    check(rc1 == 0 and rc2 == 0, 'both snapshots made')
    check(len(s1['crashes']) == n and len(s2['crashes']) == n, 'second read finds every report again')
    got = sum(len(fn) for _, _, fn in os.walk(kdir))
    check(p.returncode == 0 and got == n, 'stock idevicecrashreport -k still sees %d of %d files' % (got, n))


def case_devices():
    emu = Emu([bundled(x) for x in ('healthy-15pro', 'worn-battery-11', 'locked-13')])
    rc, so, se, _ = benchctl(emu, ['devices', '--json'])
    rc2, so2, _, _ = benchctl(emu, ['devices'])
    emu.stop()
    check(rc == 0 and rc2 == 0, 'exit 0')
    d = {x['udid']: x for x in json.loads(so)}
    check(set(d) == {UDID['healthy'], UDID['worn'], UDID['locked']}, 'all three listed: %s' % list(d))
    check(d[UDID['healthy']]['model_name'] == 'iPhone 15 Pro' and d[UDID['healthy']]['mode'] == 'normal', 'model and mode')
    check(d[UDID['locked']]['product_type'] == 'iPhone14,5', 'a locked device still says what it is')
    check(UDID['worn'] in so2 and 'iPhone 11' in so2, 'table output')


def case_no_usbmuxd():
    rc, so, se, _ = benchctl(None, ['devices'], umockdev=['recovery-iphone11.umockdev'])
    check(rc == 0, 'devices without usbmuxd still works: %d' % rc)
    check('usbmuxd is not running' in se, 'warning on stderr: %r' % se)
    check('0x1A35E21A05802E' in so and 'recovery' in so and 'iPhone 11' in so, 'recovery device listed: %r' % so)
    rc, so, se, _ = benchctl(None, ['snapshot', '--udid', UDID['thermal']])
    check(rc == 3 and 'usbmuxd is not running' in se, 'snapshot: exit 3 and why: %d %r' % (rc, se))


def usb_case(dev, ident, mode, model):
    out = os.path.join(TMP, 'usb.json')
    rc, so, se, _ = benchctl(None, ['snapshot', '--udid', ident, '--out', out], umockdev=[dev])
    check(rc == 0, 'exit 0: %d %r' % (rc, se))
    snap = json.load(open(out))
    d = snap['device']
    check(d['mode'] == mode and d['lockdown'] == 'unavailable', 'mode %s, lockdown unavailable' % mode)
    check(d.get('model_name') == model, 'model from CPID+BDID: %s' % d.get('model_name'))
    check(d['usb']['vendor_id'] == 0x05ac, 'vendor id')
    check(snap['probes'] == [] and 'battery' not in snap, 'no probes in %s mode' % mode)
    return snap


def case_usb_recovery():
    s = usb_case('recovery-iphone11.umockdev', '0x1A35E21A05802E', 'recovery', 'iPhone 11')
    check(s['device']['serial'] == 'F2LXK0AAN72J' and s['device']['product_type'] == 'iPhone12,1', 'serial, product type')
    check(s['device']['usb']['cpid'] == '0x8030' and s['device']['usb']['bdid'] == '0x04', 'cpid/bdid')
    # the UDID form (CPID-ECID) names the same device
    usb_case('recovery-iphone11.umockdev', '00008030-001A35E21A05802E', 'recovery', 'iPhone 11')


def case_usb_dfu():
    s = usb_case('dfu-iphone15pro.umockdev', 'a1c2e3b4d801e', 'dfu', 'iPhone 15 Pro')
    check(s['device']['usb']['srtg'] == 'iBoot-10151.0.0.1.1', 'SRTG kept')


def case_usb_devices():
    emu = Emu([bundled('healthy-15pro')])
    rc, so, se, _ = benchctl(emu, ['devices', '--json'], umockdev=['recovery-iphone11.umockdev',
                                                                   'dfu-iphone15pro.umockdev', 'wtf-garbage.umockdev'])
    emu.stop()
    check(rc == 0, 'exit 0: %r' % se)
    d = json.loads(so)
    modes = sorted(x['mode'] for x in d)
    check(modes == ['dfu', 'normal', 'recovery', 'wtf'], 'usbmux and USB-level together: %s' % modes)
    wtf = [x for x in d if x['mode'] == 'wtf'][0]
    check('model_name' not in wtf, 'garbage iBoot string: no invented model')


def case_no_device():
    emu = Emu([bundled('healthy-15pro')])
    rc, snap, se, _ = snapshot(emu, '00008030-00000000DEADBEEF')
    emu.stop()
    check(rc == 3 and 'no device' in se, 'exit 3 and why: %d %r' % (rc, se))
    check(snap is None, 'nothing written')
    # the ECID of a normal-mode device names it too
    emu = Emu([bundled('healthy-15pro')])
    rc, snap, se, _ = snapshot(emu, '0xA1C2E3B4D801E', secs=0, extra=['--probe', 'info'])
    emu.stop()
    check(rc == 0 and snap['device']['udid'] == UDID['healthy'], 'ECID of a usbmux device: %d %r' % (rc, se))


def case_watch():
    """usbmux events: devices present at start, then attach and detach at run time."""
    emu = Emu([bundled('healthy-15pro')])
    p = subprocess.Popen([A.watch_events, '6'], env=env_for(emu), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = []

    def wait_line(want, secs=5):
        deadline = time.time() + secs
        while time.time() < deadline:
            l = p.stdout.readline().strip()
            if l:
                lines.append(l)
            if l == want:
                return True
        return False
    check(wait_line('add ' + UDID['healthy']), 'add for the device present at start: %s' % lines)
    r = emu.control('attach ' + bundled('worn-battery-11'))
    check(r.startswith('ok'), 'attach: %r' % r)
    check(wait_line('add ' + UDID['worn']), 'add after attach: %s' % lines)
    r = emu.control('detach ' + UDID['worn'])
    check(wait_line('remove ' + UDID['worn']), 'remove after detach: %s' % lines)
    out, err = p.communicate(timeout=20)
    emu.stop()
    check(p.returncode == 0 and 'stopped' in out, 'watch stops cleanly: %d %s' % (p.returncode, err))


def case_memory():
    """One session (hostile crash folder with a 2 MB panic, 2 s of syslog) stays under 4 MiB."""
    pdir = os.path.join(TMP, 'hc')
    shutil.copytree(mine('hostile-crashes'), pdir)
    with open(os.path.join(pdir, 'crashes', 'panic-big.ips'), 'wb') as f:
        f.write(b'{"bug_type":"210","timestamp":"2026-11-21 09:00:00.00 +0000"}\n')
        f.write(b'{"product":"iPhone13,2","panicString":"panic(cpu 0 caller 0x1): ' + b'P' * (2 << 20) + b'"}')
    emu = Emu([pdir])
    p = subprocess.run([A.session_mem, udid_of(pdir), os.path.join(TMP, 'c')], env=env_for(emu),
                       capture_output=True, timeout=40)
    emu.stop()
    out = p.stdout.decode()
    print(out.strip())
    check(p.returncode == 0, 'session_mem ran: %s' % p.stderr.decode())
    kib = int(out.split()[2]) if out.startswith('session peak') else 1 << 30
    check(kib < 4096, 'one session under 4 MiB resident: %d KiB' % kib)


def main():
    global A, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument('--benchctl', required=True)
    ap.add_argument('--emu', required=True)
    ap.add_argument('--src', required=True)
    ap.add_argument('--session-mem')
    ap.add_argument('--watch-events')
    ap.add_argument('case')
    A = ap.parse_args()
    fn = globals().get('case_' + A.case.replace('-', '_'))
    if fn is None:
        print('unknown case', A.case)
        return 2
    TMP = tempfile.mkdtemp(prefix='benchd-drv-')
    try:
        fn()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    if FAILS:
        print('%d check(s) failed' % len(FAILS))
        return 1
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
