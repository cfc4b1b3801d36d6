#!/usr/bin/env python3
"""Independent implementations verify our output with nothing but the public JWK: Python's
`cryptography` (Debian python3-cryptography) and Node's built-in crypto. Covers the RFC 8037
Appendix A vector reproduced by our signer, a report signed with a fresh bench key, and the RFC 7638
thumbprint of the exported JWK.

  test_independent.py          Python's verifier (reports.independent)
  test_independent.py node     Node's (reports.independent.node): exit 77, skipped with the reason,
                               when node is not installed (scripts/packages/reports.test.txt has it)
"""
import base64
import hashlib
import json
import os
import subprocess
import sys

from common import FIXTURES, TempDir, check, finish, run, tool

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def py_verify(jws, jwk):
    """A JOSE verifier written from RFC 7515/8037 alone: True when the signature holds."""
    key = Ed25519PublicKey.from_public_bytes(unb64(jwk["x"]))
    data = (jws["protected"] + "." + jws["payload"]).encode()
    try:
        key.verify(unb64(jws["signature"]), data)
        return True
    except InvalidSignature:
        return False


def thumbprint(jwk):
    canon = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"),
                       sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()


NODE_VERIFY = r"""
const crypto = require('crypto');
const [jws, jwk] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
const key = crypto.createPublicKey({key: {kty: jwk.kty, crv: jwk.crv, x: jwk.x}, format: 'jwk'});
const ok = crypto.verify(null, Buffer.from(jws.protected + '.' + jws.payload),
                         key, Buffer.from(jws.signature, 'base64url'));
process.stdout.write(ok ? 'valid' : 'invalid');
"""
NODE_ONLY = sys.argv[1:] == ["node"]
node = os.environ.get("NODE") or ""
if node.endswith("NOTFOUND") or not os.path.exists(node):
    node = ""
if NODE_ONLY and not node:
    print("SKIP: node is not installed, so Node's crypto did not verify the reports "
          "(nodejs is in scripts/packages/reports.test.txt: scripts/deps --test)")
    sys.exit(77)


def node_verify(jws, jwk):
    p = subprocess.run([node, "-e", NODE_VERIFY, json.dumps(jws), json.dumps(jwk)], capture_output=True,
                       timeout=60)
    return p.stdout.decode() == "valid"


# RFC 8037 A.4, byte for byte.
rfc = json.loads(tool("rfc8037"))
check(rfc == {"protected": "eyJhbGciOiJFZERTQSJ9", "payload": "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
              "signature": "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"},
      "our signer reproduces RFC 8037 A.4 byte-exact")
rfc_jwk = json.loads(open(os.path.join(FIXTURES, "rfc8037.jwk")).read())
check(rfc_jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "the fixture JWK is RFC 8037 A.2's")
check(thumbprint(rfc_jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "RFC 8037 A.3 thumbprint")
check(py_verify(rfc, rfc_jwk), "python cryptography verifies the RFC 8037 vector")

with TempDir() as tmp:
    state = os.path.join(tmp, "state")
    rc, _, err = run(["key", "init"], state)
    check(rc == 0, "key init")
    rc, out, _ = run(["key", "export"], state)
    jwk = json.loads(out)
    check(thumbprint(jwk) == jwk["kid"], "exported kid is the RFC 7638 thumbprint (computed independently)")
    signed = json.loads(tool("sign-state", state, os.path.join(FIXTURES, "report.json")))
    check(sorted(signed) == ["payload", "protected", "signature"], "flattened JWS with exactly three members")
    hdr = json.loads(unb64(signed["protected"]))
    check(hdr == {"alg": "EdDSA", "kid": jwk["kid"], "typ": "benchd-report+json"}, "protected header")
    check(py_verify(signed, jwk), "python cryptography verifies a bench-signed report with the public JWK")
    report = json.loads(unb64(signed["payload"]))
    check(report["schema"] == "benchd.report/1", "the payload is the report")
    bad = dict(signed, payload=signed["payload"][:-2] + ("AA" if signed["payload"][-2:] != "AA" else "BA"))
    check(not py_verify(bad, jwk), "python cryptography rejects an altered payload")
    if NODE_ONLY:
        check(node_verify(rfc, rfc_jwk), "node crypto verifies the RFC 8037 vector")
        check(node_verify(signed, jwk), "node crypto verifies a bench-signed report with the public JWK")
        check(not node_verify(bad, jwk), "node crypto rejects an altered payload")
    # The committed fixture too (RFC 8037 key).
    fx = json.loads(open(os.path.join(FIXTURES, "report.jws.json")).read())
    check(py_verify(fx, rfc_jwk), "python cryptography verifies the golden fixture report")

finish()
