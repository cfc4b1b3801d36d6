#!/usr/bin/env python3
"""benchctl key and report verify/show as a user drives them: exit codes, exact one-line reasons,
key file permissions, refusal to overwrite, and every tamper case of a signed report."""
import base64
import json
import os
import stat

from common import FIXTURES, TempDir, check, finish, run, tool


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


with TempDir() as tmp:
    state = os.path.join(tmp, "state")
    # key export before init: a clear error.
    rc, out, err = run(["key", "export"], state)
    check(rc == 1 and "benchctl key init" in err, "key export without a key says to run key init")
    rc, out, err = run(["key", "init"], state)
    check(rc == 0 and "key id:" in out, "key init creates the key")
    keyfile = os.path.join(state, "bench-key.pem")
    check(stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600, "bench key is mode 0600")
    check(stat.S_IMODE(os.stat(state).st_mode) == 0o700, "state directory is created 0700")
    before = open(keyfile, "rb").read()
    rc, out, err = run(["key", "init"], state)
    check(rc == 1 and "already exists" in err and "--force" in err, "key init refuses to overwrite")
    check(open(keyfile, "rb").read() == before, "the refused init left the key unchanged")
    rc, out, err = run(["key", "export"], state)
    jwk = json.loads(out)
    check(rc == 0 and jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and len(unb64(jwk["x"])) == 32,
          "key export prints an Ed25519 public JWK")
    check("d" not in jwk and "PRIVATE" not in out, "key export never prints the private key")
    check(len(jwk["kid"]) == 43, "the exported JWK carries its RFC 7638 kid")
    rc, out, err = run(["--json", "key", "init", "--force"], state)
    check(rc == 0 and json.loads(out)["kid"] != jwk["kid"], "key init --force makes a new key")
    check(stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600, "the replaced key is mode 0600")
    rc, out, err = run(["key", "export"], state)
    jwk = json.loads(out)
    jwkfile = os.path.join(tmp, "bench.jwk")
    open(jwkfile, "w").write(out)

    # A report signed by this bench (report_sign through the real key file).
    report = open(os.path.join(FIXTURES, "report.json"), "rb").read()
    good = tool("sign-state", state, os.path.join(FIXTURES, "report.json")).strip()
    goodfile = os.path.join(tmp, "good.jws.json")
    open(goodfile, "wb").write(good)
    rc, out, err = run(["report", "verify", goodfile], state)
    check(rc == 0 and "valid" in out and jwk["kid"] in out, "verify: a good report with the bench key")
    rc, out, err = run(["report", "verify", goodfile, "--key", jwkfile], os.path.join(tmp, "nostate"))
    check(rc == 0, "verify: a good report with --key on another machine")
    rc, out, err = run(["--json", "report", "verify", goodfile], state)
    check(rc == 0 and json.loads(out)["valid"] is True, "verify --json says valid")
    j = json.loads(good)
    hdr = json.loads(unb64(j["protected"]))
    check(list(hdr.keys()) == ["alg", "kid", "typ"] and hdr["alg"] == "EdDSA" and hdr["typ"] ==
          "benchd-report+json" and hdr["kid"] == jwk["kid"],
          "protected header is exactly alg, kid, typ")
    check(unb64(j["protected"]) == ('{"alg":"EdDSA","kid":"%s","typ":"benchd-report+json"}' %
                                    jwk["kid"]).encode(), "protected header bytes are compact")

    def tampered(name, data, reason, code=6, key=None):
        f = os.path.join(tmp, name + ".jws.json")
        open(f, "wb").write(data)
        args = ["report", "verify", f] + (["--key", key] if key else [])
        rc, out, err = run(args, state)
        lines = err.strip().splitlines()
        check(rc == code and len(lines) == 1 and reason in err,
              "verify refuses %s: exit %d, '%s' (got %d: %s)" % (name, code, reason, rc, err.strip()))
        return f

    def with_members(**kw):
        o = dict(j)
        o.update(kw)
        return json.dumps(o, separators=(",", ":")).encode()

    p = bytearray(unb64(j["payload"]))
    p[p.index(b"BAT-001")] = ord("C")
    tampered("payload-byte", with_members(payload=b64(bytes(p))), "the signature does not verify")
    s = bytearray(unb64(j["signature"]))
    s[10] ^= 1
    tampered("signature-byte", with_members(signature=b64(bytes(s))), "the signature does not verify")
    tampered("signature-short", with_members(signature=b64(bytes(s[:63]))),
             "the signature is 63 bytes, an Ed25519 signature is 64")
    # Another bench's key.
    other = tool("sign-fixed", os.path.join(FIXTURES, "report.json")).strip()
    tampered("wrong-key", other, "signed by key kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k, not by the key used to verify")
    # The other bench's signature under this bench's kid.
    oj = json.loads(other)
    tampered("kid-forged", with_members(signature=oj["signature"]), "the signature does not verify")
    # A kid that does not match the key.
    h2 = '{"alg":"EdDSA","kid":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","typ":"benchd-report+json"}'
    tampered("kid-mismatch", with_members(protected=b64(h2.encode())), "signed by key AAAAAAAAAAAA")
    for alg in ("none", "HS256", "RS256"):
        h = '{"alg":"%s","kid":"%s","typ":"benchd-report+json"}' % (alg, jwk["kid"])
        tampered("alg-" + alg, with_members(protected=b64(h.encode()), signature=b64(b"") if alg == "none" else j["signature"]),
                 'algorithm "%s" is refused' % alg)
    h = '{"alg":"EdDSA","kid":"%s","typ":"JWT"}' % jwk["kid"]
    tampered("typ-jwt", with_members(protected=b64(h.encode())), "not a benchd report")
    h = '{"alg":"EdDSA","kid":"%s","typ":"benchd-report+json","crit":["exp"]}' % jwk["kid"]
    tampered("crit", with_members(protected=b64(h.encode())), 'unexpected protected header member "crit"')
    tampered("truncated", good[: len(good) // 2], "truncated")
    tampered("empty", b"", "the file is empty")
    tampered("not-json", b"this is not a report\n", "not JSON")
    tampered("array", b"[1,2,3]", "the top level is not a JSON object")
    for m in ("protected", "payload", "signature"):
        o = dict(j)
        del o[m]
        tampered("missing-" + m, json.dumps(o).encode(), 'the "%s" member is missing' % m)
    tampered("extra-member", with_members(header={"kid": "x"}), 'unexpected member "header"')
    tampered("bad-b64-payload", with_members(payload=j["payload"][:-1] + "+"), 'bad base64url in "payload"')
    tampered("padded-signature", with_members(signature=j["signature"] + "=="), 'bad base64url in "signature"')
    tampered("bad-b64-protected", with_members(protected="e$" + j["protected"][2:]), 'bad base64url in "protected"')
    tampered("duplicate-member", good[:-1] + b',"payload":"e30"}', "not JSON")
    tampered("payload-not-report", with_members(payload=b64(b'{"schema":"x"}')), "not a benchd.report/1 document")
    big = os.path.join(tmp, "big.jws.json")
    with open(big, "wb") as f:
        f.truncate(17 << 20)
    rc, out, err = run(["report", "verify", big], state)
    check(rc == 6 and "bigger than" in err, "verify refuses a file over 16 MiB unread")
    # Standard input.
    rc, out, err = run(["report", "verify", "-"], state, input=good)
    check(rc == 0 and out.startswith("-: valid"), "verify - reads the report from standard input")
    rc, out, err = run(["report", "verify", "-"], state, input=good[:-5])
    check(rc == 6 and "truncated" in err, "verify - refuses a truncated report on standard input")
    # A JWK set: the key whose thumbprint is the report's kid is used.
    jwks = os.path.join(tmp, "keys.jwks")
    rfc_jwk = json.load(open(os.path.join(FIXTURES, "rfc8037.jwk")))
    json.dump({"keys": [rfc_jwk, jwk]}, open(jwks, "w"))
    rc1, _, _ = run(["report", "verify", goodfile, "--key", jwks], state)
    rc2, _, _ = run(["report", "verify", os.path.join(tmp, "wrong-key.jws.json"), "--key", jwks], state)
    check(rc1 == 0 and rc2 == 0, "verify --key with a JWK set picks the key by kid")
    badkey = os.path.join(tmp, "bad.jwk")
    open(badkey, "w").write('{"kty":"RSA","n":"x","e":"AQAB"}')
    rc, out, err = run(["report", "verify", goodfile, "--key", badkey], state)
    check(rc == 1 and "not an Ed25519 JWK" in err, "verify --key with an RSA JWK says so")
    # Usage and absent files.
    rc, out, err = run(["report", "verify"], state)
    check(rc == 2, "verify without FILE is a usage error")
    rc, out, err = run(["report", "verify", os.path.join(tmp, "absent.json")], state)
    check(rc == 1 and err.strip().endswith("absent.json: no such file"), "verify of a missing file says so")
    # Issue 18 item 4: an unknown report id is named as one, with where it was looked for.
    rid = "11111111-2222-4333-8444-555555555555"
    rc, out, err = run(["report", "verify", rid], state)
    check(rc == 1 and err.strip() == "benchctl: %s: no report with this id in %s/reports (give the report's file, "
          "or the bench's state directory with --state-dir)" % (rid, state), "verify of an unknown report id says so")
    rc, out, err = run(["report", "show", rid], state)
    check(rc == 1 and "no report with this id in %s/reports" % state in err, "show of an unknown report id says so")
    # A file that is not JSON is called so, whatever its last byte; a cut report is truncated.
    for name, data in (("words", b"hello world"), ("letter", b"x"), ("binary", b"\x89PNG\r\n\x1a\n\0\0"),
                       ("nul", b"\0")):
        f = os.path.join(tmp, name + ".txt")
        open(f, "wb").write(data)
        rc, out, err = run(["report", "verify", f], state)
        check(rc == 6 and "not JSON" in err and "truncated" not in err,
              "verify calls a %s file not JSON, not truncated (%s)" % (name, err.strip()))
    f = os.path.join(tmp, "cut.json")
    open(f, "wb").write(good[:40])
    rc, out, err = run(["report", "verify", f], state)
    check(rc == 6 and "truncated" in err, "verify calls a cut report truncated")
    # Issue 18 item 5: --json failures are one line {"ok":false,"error":...} on stdout.
    for args, what in ((["report", "verify", rid], "verify of an unknown id"),
                       (["report", "show", rid], "show of an unknown id"),
                       (["report", "show", os.path.join(tmp, "words.txt")], "show of a file that is not JSON"),
                       (["report", "show", goodfile, "--format", "pdf"], "show --format pdf"),
                       (["report", "show", goodfile, "--colour"], "an unknown option")):
        rc, out, err = run(["--json"] + args, state)
        try:
            o = json.loads(out)
        except ValueError:
            o = {}
        check(rc != 0 and out.count("\n") == 1 and o.get("ok") is False and o.get("error"),
              "--json %s: one line ok false with the error (%s)" % (what, out.strip()))
    rc, out, err = run(["--json", "report", "verify", goodfile], state)
    check(rc == 0 and json.loads(out)["ok"] is True, "verify --json of a good report says ok true")
    # One parser for both: an unknown option is one line, not the whole help.
    rc, out, err = run(["report", "show", goodfile, "--colour"], state)
    check(rc == 2 and err.strip() == "benchctl: report show: unknown option '--colour': see benchctl report --help",
          "show with an unknown option: one line and where help is")
    rc, out, err = run(["report", "verify", goodfile, "--format", "html"], state)
    check(rc == 2 and len(err.strip().splitlines()) == 1 and "report verify: --format is for report show; verify takes only --key" in err,
          "verify refuses the options of show, in one line")
    rc, out, err = run(["report", "verify", goodfile, "--key"], state)
    check(rc == 2 and "--key needs a value" in err, "an option without its value says so")
    rc, out, err = run(["report", "--help"], state)
    check(rc == 0 and "--view customer|technician" in out and "(the default for html)" in out,
          "report --help names the views and the default for html")
    rc, out, err = run(["report", "verify", goodfile], os.path.join(tmp, "empty-state"))
    check(rc == 6 and "no key to verify with" in err and "--key" in err, "verify with no key says how to give one")

    # show: verified, and a tampered one with a visible warning and exit 6.
    rc, out, err = run(["report", "show", goodfile, "--trees-dir", FIXTURES], state)
    check(rc == 0 and out.startswith("Diagnostic report") and "verified" in out, "show text of a good report")
    check(out.index("Faults") < out.index("Readings"), "show text puts faults before readings")
    bad = os.path.join(tmp, "payload-byte.jws.json")
    rc, out, err = run(["report", "show", bad, "--trees-dir", FIXTURES], state)
    check(rc == 6 and out.startswith("!! Warning: the signature of this report does not verify") and
          "WARNING" in err, "show of an altered report renders with a warning and exits 6")
    check(err.count("does not verify") == 1 and out.splitlines()[0].count("does not verify") == 1,
          "the bad-signature warning says 'does not verify' once, on stderr and in the report")
    rc, out, err = run(["report", "show", bad, "--format", "html", "--trees-dir", FIXTURES], state)
    check(rc == 6 and 'class="warn"' in out, "show html of an altered report carries a visible warning")
    rc, out, err = run(["report", "show", os.path.join(tmp, "not-json.jws.json")], state)
    check(rc == 6 and out == "" and "not JSON" in err, "show refuses a file that is not a report")
    rc, out, err = run(["report", "show", goodfile, "--format", "json"], state)
    check(rc == 0 and json.loads(out) == json.loads(report), "show json prints the verified payload")
    rc, out, err = run(["report", "show", goodfile, "--format", "pdf"], state)
    check(rc == 2, "show --format pdf is a usage error")
    rc, out, err = run(["--lang", "de", "report", "show", goodfile], state)
    check(rc == 2, "--lang de is a usage error")
    htmlout = os.path.join(tmp, "out.html")
    rc, out, err = run(["report", "show", goodfile, "--format", "html", "--out", htmlout, "--lang", "zh"], state)
    check(rc == 0 and out == "" and "手机检测报告" in open(htmlout, encoding="utf-8").read(),
          "show --out writes the (customer) page to a file")

finish()
