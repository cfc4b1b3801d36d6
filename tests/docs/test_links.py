#!/usr/bin/env python3
"""The documentation a clone carries points only at what the clone has (issue 18 item 7).

  test_links.py [TOP]

In README.md, HACKING.md and every docs/*.md (and the READMEs of the folders):
  - every Markdown link [text](target) that is not a URL resolves to a file or folder of the
    repository (relative to the file that holds it), and its #anchor, when it names a heading of
    a Markdown file, exists;
  - no reference leaves the repository: no `../` path that climbs out of it, no `shared/docs`;
  - every `backticked` repository path (one starting with a top-level folder of the repository,
    e.g. `tests/bench/README.md`, `agent/common/`) exists, so a moved file cannot leave a stale
    pointer behind;
  - every Markdown file a document names by bare name (`DESIGN.md`, `PROTOCOL.md`, ...) is in
    docs/, at the top or beside the document.
Exit 0 pass, 1 fail (each problem on its own line: FILE:LINE: what).
"""
import os
import re
import subprocess
import sys

TOP = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
TICK = re.compile(r"`([^`\n]+)`")
BARE_MD = re.compile(r"(?<![/\w.-])([A-Z][A-Za-z_-]*\.md)\b")
# Parts of a backticked path that make it a pattern or a placeholder, not a file name.
PLACEHOLDER = re.compile(r"[<>*{}$\[\]|]|\.\.\.|…|XXXX|NNN")
# A component in capitals (`tests/NAME.json`, `build/bin/TARGET`) or of one letter
# (`tests/real/x.json`) is a placeholder too.
CAPS = re.compile(r"(^|/)((?!README|HACKING|SOURCES)[A-Z][A-Z0-9_]+|[a-z])(\.[a-z]+)?(/|$)")
# The fact sheets cite files of other projects' repositories (libimobiledevice's `docs/...`).
CITES_OTHERS = {"docs/DOMAIN.md", "docs/PROTOCOL.md"}
# Paths of benchd's state directory that share a name with a folder of the repository.
STATE_PATHS = {"reports/rejected/"}


def tracked():
    out = subprocess.run(["git", "-C", TOP, "ls-files"], capture_output=True, text=True)
    if out.returncode == 0 and out.stdout:
        files = out.stdout.split()
    else:  # not a git checkout (a source tarball): walk the tree
        files = [os.path.relpath(os.path.join(d, f), TOP) for d, _, fs in os.walk(TOP)
                 if "/build" not in d and "/.git" not in d for f in fs]
    return files


def anchors(path):
    """GitHub's heading anchors of a Markdown file."""
    out = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
                out.add(a)
    return out


def main():
    files = tracked()
    paths = set(files)
    dirs = {os.path.dirname(f) for f in files}
    for f in list(dirs):
        while f:
            f = os.path.dirname(f)
            dirs.add(f)
    tops = {f.split("/")[0] for f in files if "/" in f}
    docs = ["README.md", "HACKING.md"] + sorted(f for f in files if f.startswith("docs/") and f.endswith(".md"))
    docs += sorted(f for f in files if f.endswith("README.md") and f != "README.md" and not f.startswith("docs/"))
    md_names = {os.path.basename(f) for f in files if f.endswith(".md") and (f.startswith("docs/") or "/" not in f)}
    problems = []
    links = ticks = 0

    def exists(rel):
        rel = os.path.normpath(rel).rstrip("/")
        return rel in paths or rel in dirs

    for doc in docs:
        here = os.path.dirname(doc)
        with open(os.path.join(TOP, doc), encoding="utf-8") as f:
            lines = f.read().splitlines()
        fence = False
        for n, line in enumerate(lines, 1):
            where = "%s:%d" % (doc, n)
            if "shared/docs" in line:
                problems.append("%s: points at shared/docs, outside the repository (the notes are in docs/)" % where)
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue  # a URL
                links += 1
                path, _, anchor = target.partition("#")
                rel = os.path.normpath(os.path.join(here, path)) if path else doc
                if rel.startswith(".."):
                    problems.append("%s: link %s leaves the repository" % (where, target))
                elif not exists(rel):
                    problems.append("%s: link %s: no such file in the repository (%s)" % (where, target, rel))
                elif anchor and rel.endswith(".md") and anchor not in anchors(os.path.join(TOP, rel)):
                    problems.append("%s: link %s: %s has no heading #%s" % (where, target, rel, anchor))
            if line.lstrip().startswith("```"):
                fence = not fence
                continue
            for tok in TICK.findall(line) if not fence else []:
                tok = tok.strip()
                if tok.startswith("../"):
                    problems.append("%s: `%s` leaves the repository" % (where, tok))
                    continue
                if " " in tok or PLACEHOLDER.search(tok) or CAPS.search(tok) or "/" not in tok or doc in CITES_OTHERS:
                    continue
                first = tok.split("/")[0]
                if first not in tops:
                    continue
                if tok in STATE_PATHS:
                    continue
                ticks += 1
                tok = tok.split(":")[0]
                if not exists(tok) and not exists(os.path.join(here, tok)):
                    problems.append("%s: `%s`: no such file or folder in the repository" % (where, tok))
            for name in BARE_MD.findall(line) if doc not in CITES_OTHERS else []:
                if name not in md_names and not os.path.join(here, name) in paths:
                    problems.append("%s: %s is not in docs/ or at the top of the repository" % (where, name))
    for p in problems:
        print(p)
    print("%s: %d documents, %d links, %d repository paths checked, %d problems" %
          ("FAIL" if problems else "PASS", len(docs), links, ticks, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
