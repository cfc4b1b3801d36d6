"""Shared helpers for the reports tests: run benchctl and report-tool as a user would."""
import os
import shutil
import subprocess
import sys
import tempfile

BENCHCTL = os.environ["BENCHCTL"]
REPORT_TOOL = os.environ["REPORT_TOOL"]
FIXTURES = os.environ["FIXTURES"]
GOLDEN = os.environ.get("GOLDEN", "")
FAILURES = []


def run(args, state=None, input=None):
    cmd = [BENCHCTL]
    if state is not None:
        cmd += ["--state-dir", state]
    p = subprocess.run(cmd + list(args), input=input, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def tool(*args):
    p = subprocess.run([REPORT_TOOL] + list(args), capture_output=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit("report-tool %s failed: %s" % (args, p.stderr.decode()))
    return p.stdout


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILURES.append(what)
    return cond


def finish():
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        sys.exit(1)
    print("all passed")


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="benchd-reports-")
        return self.path

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)
