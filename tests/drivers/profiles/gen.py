#!/usr/bin/env python3
"""Hostile device profiles for the drivers tests (format: DESIGN.md 4.2).

Each profile starts from a bundled one in tests/profiles/ and changes what the test is about.
Rerun after editing: python3 tests/drivers/profiles/gen.py. Large content (the 2 MB panic
string, the 30,000-line syslog) is added at test time by t/drivers_emu.py, to keep the repo small.
"""
import os
import plistlib
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, '..', '..', 'profiles')


def make(name, base, udid, edit, crashes=None, syslog=None, keep_crashes=False):
    src = os.path.join(BASE, base)
    dst = os.path.join(HERE, name)
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    with open(os.path.join(src, 'device.plist'), 'rb') as f:
        p = plistlib.load(f)
    p['Lockdown']['Root']['UniqueDeviceID'] = udid
    edit(p)
    with open(os.path.join(dst, 'device.plist'), 'wb') as f:
        plistlib.dump(p, f)
    if syslog is None:
        shutil.copy(os.path.join(src, 'syslog.txt'), os.path.join(dst, 'syslog.txt'))
    else:
        with open(os.path.join(dst, 'syslog.txt'), 'wb') as f:
            f.write(syslog)
    if keep_crashes and os.path.isdir(os.path.join(src, 'crashes')):
        shutil.copytree(os.path.join(src, 'crashes'), os.path.join(dst, 'crashes'))
    for rel, data in (crashes or {}).items():
        path = os.path.join(dst, 'crashes', rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)


def behaviour(**kw):
    def edit(p):
        p.setdefault('Behaviour', {}).update(kw)
    return edit


def battery(**kw):
    def edit(p):
        p['IORegistry']['AppleSmartBattery'].update(kw)
    return edit


PANIC = (b'{"bug_type":"210","timestamp":"2026-11-21 08:33:40.00 +0100","os_version":"iPhone OS 17.1.2 (21B101)"}\n'
         b'{"product":"iPhone13,2","panicString":"panic(cpu 5 caller 0xfffffff0): i2c0::_checkInterrupts error"}')


def old_model(p):
    r = p['Lockdown']['Root']
    r['ProductType'] = 'iPhone9,3'
    r['HardwareModel'] = 'D101AP'
    r['ProductVersion'] = '15.8'
    r['BuildVersion'] = '19H370'
    sb = p['IORegistry'].pop('AppleSmartBattery')
    p['IORegistry'] = {'AppleARMPMUCharger': {
        'DesignCapacity': 1960, 'MaxCapacity': 1700, 'CurrentCapacity': 1200, 'CycleCount': 640,
        'Temperature': 2710, 'Voltage': 3811, 'InstantAmperage': -180, 'IsCharging': False,
        'Serial': sb.get('Serial', 'F5D')}}


def no_gauge(p):
    p['IORegistry'] = {}


make('hostile-crashes', 'thermal-loop-12', '00008101-0000000000D0C001', lambda p: None,
     crashes={
         'junk.txt': b'not a report\n',
         '.DS_Store': bytes(range(256)) * 4,
         'garbage.ips': bytes((i * 37) % 256 for i in range(3000)),
         'empty.ips': b'',
         'bad-header.ips': b'{"bug_type": 210, oops\n{"panicString":"x"}',
         'text-body.ips': b'{"bug_type":"210","timestamp":"2019-03-01 10:00:00.00 +0000"}\n'
                          b'panic(cpu 0 caller 0x1): ANS2 Recoverable Panic - nvme\n',
         'panic-full-2026-11-21-083340.000.ips': PANIC,
         'sub dir/panic with spaces.ips': PANIC,
         'a/b/c/d/e/f/g/h/i/too-deep.ips': PANIC,
     },
     syslog=(b'Nov 22 10:00:01 iPhone kernel[0] <Notice>: ok line\n'
             b'Nov 22 10:00:02 iPhone bad[1] <Error>: invalid utf8 \xff\xfe\xc3 here\n'
             b'Nov 22 10:00:03 iPhone long[2] <Notice>: ' + b'L' * 40000 + b'\n'
             b'Nov 22 10:00:04 iPhone kernel[0] <Notice>: after the long one\n'))
make('hostile-battery', 'thermal-loop-12', '00008101-0000000000D0C002',
     battery(DesignCapacity=0, NominalChargeCapacity=2500, CycleCount=-5, Temperature=99999, Voltage=0))
make('old-model', 'unpaired-se', '00008030-0000000000D0C003',
     lambda p: (old_model(p), p.setdefault('Behaviour', {}).update(Paired=True)))
make('no-gauge', 'thermal-loop-12', '00008101-0000000000D0C004', no_gauge)
make('trust-pending', 'unpaired-se', '00008030-0000000000D0C005', behaviour(Paired=False, TrustPending=True))
make('port-zero', 'thermal-loop-12', '00008101-0000000000D0C200', behaviour(ServicePortZero=True))
for stage in ('handshake', 'diagnostics', 'syslog', 'afc'):
    make('disc-' + stage, 'thermal-loop-12', '00008101-0000000000D0C1%02d' % ('handshake diagnostics syslog afc'.split().index(stage)),
         behaviour(DisconnectAfter=stage), keep_crashes=True)
