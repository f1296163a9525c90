#!/usr/bin/env python3
"""An independent DSSE + ed25519 implementation, for speedcert's interop test.

Written from the specs only (DSSE protocol.md, in-toto Statement v1, RFC 8410 key
encodings), with PyNaCl (libsodium) for ed25519 and the standard library for the
rest. It shares no code with speedcert. attest/tests/interop.rs drives it:

  verify ENVELOPE --pubkey PUB.pem [--bundle DIR]
      Verify a speedcert-made envelope: PAE recomputed here, signature checked with
      libsodium, payloadType and Statement checked, and with --bundle every subject's
      sha256 recomputed and the file set compared. Exit 0 and print a JSON summary
      when valid, exit 1 with the reason on stderr otherwise.
  sign BUNDLE --pubkey-out PUB.pem [--urlsafe]
      Make a statement over every file of BUNDLE, sign it with a fresh PyNaCl key,
      write BUNDLE/attestation.dsse.json and the public key as SPKI PEM.
  pae TYPE BODY_HEX
      Print PAE(TYPE, BODY) as hex.
"""

import argparse
import base64
import hashlib
import json
import os
import sys

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://speedcert.dev/bundle/v1"
ENVELOPE_FILE = "attestation.dsse.json"
# RFC 8410 SubjectPublicKeyInfo for Ed25519 (OID 1.3.101.112), before the 32 key bytes.
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def pae(payload_type: bytes, body: bytes) -> bytes:
    # "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(body), body)


def b64decode_any(s: str) -> bytes:
    """DSSE: verifiers accept standard or URL-safe base64."""
    padded = s + "=" * (-len(s) % 4)
    alt = b"-_" if ("-" in s or "_" in s) else b"+/"
    return base64.b64decode(padded, altchars=alt, validate=True)


def read_spki_pem(path):
    with open(path) as f:
        lines = f.read().strip().splitlines()
    if lines[0] != "-----BEGIN PUBLIC KEY-----" or lines[-1] != "-----END PUBLIC KEY-----":
        fail(f"{path}: not a PUBLIC KEY PEM")
    der = base64.b64decode("".join(lines[1:-1]))
    if len(der) != 44 or der[:12] != SPKI_PREFIX:
        fail(f"{path}: not an ed25519 SubjectPublicKeyInfo")
    return der[12:]


def write_spki_pem(path, raw):
    b64 = base64.b64encode(SPKI_PREFIX + raw).decode()
    with open(path, "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\n" + b64 + "\n-----END PUBLIC KEY-----\n")


def bundle_files(bundle):
    names = []
    for root, dirs, files in os.walk(bundle):
        dirs.sort()
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), bundle).replace(os.sep, "/")
            if rel != ENVELOPE_FILE:
                names.append(rel)
    return sorted(names)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cmd_verify(args):
    with open(args.envelope) as f:
        env = json.load(f)
    raw = read_spki_pem(args.pubkey)
    key = VerifyKey(raw)
    body = b64decode_any(env["payload"])
    message = pae(env["payloadType"].encode("utf-8"), body)
    good = []
    for s in env.get("signatures", []):
        try:
            key.verify(message, b64decode_any(s["sig"]))
            good.append(s.get("keyid"))
        except (BadSignatureError, ValueError):
            pass
    if not good:
        fail("no signature verifies with " + args.pubkey)
    if env["payloadType"] != PAYLOAD_TYPE:
        fail("payloadType is " + env["payloadType"])
    st = json.loads(body)
    if st.get("_type") != STATEMENT_TYPE or st.get("predicateType") != PREDICATE_TYPE:
        fail("not a speedcert in-toto statement")
    if args.bundle:
        subjects = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
        on_disk = bundle_files(args.bundle)
        if sorted(subjects) != on_disk:
            fail(f"file set differs: attestation {sorted(subjects)}, bundle {on_disk}")
        for name, want in subjects.items():
            got = sha256_file(os.path.join(args.bundle, name))
            if got != want:
                fail(f"{name}: sha256 is {got}, the attestation says {want}")
    print(json.dumps({
        "verified_keyids": good,
        "key_sha256": hashlib.sha256(raw).hexdigest(),
        "subjects": len(st["subject"]),
        "predicate": st.get("predicate"),
    }))


def cmd_sign(args):
    subjects = [
        {"name": n, "digest": {"sha256": sha256_file(os.path.join(args.bundle, n))}}
        for n in bundle_files(args.bundle)
    ]
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {"signer": "pynacl", "note": "made by dsse_pynacl.py"},
    }
    body = json.dumps(statement, indent=1).encode()
    key = SigningKey.generate()
    raw = bytes(key.verify_key)
    sig = key.sign(pae(PAYLOAD_TYPE.encode(), body)).signature
    enc = base64.urlsafe_b64encode if args.urlsafe else base64.b64encode
    envelope = {
        "payload": enc(body).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": hashlib.sha256(raw).hexdigest(), "sig": enc(sig).decode()}],
    }
    with open(os.path.join(args.bundle, ENVELOPE_FILE), "w") as f:
        json.dump(envelope, f)
    write_spki_pem(args.pubkey_out, raw)
    print(hashlib.sha256(raw).hexdigest())


def cmd_pae(args):
    print(pae(args.type.encode("utf-8"), bytes.fromhex(args.body_hex)).hex())


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("envelope")
    v.add_argument("--pubkey", required=True)
    v.add_argument("--bundle")
    s = sub.add_parser("sign")
    s.add_argument("bundle")
    s.add_argument("--pubkey-out", required=True)
    s.add_argument("--urlsafe", action="store_true")
    a = sub.add_parser("pae")
    a.add_argument("type")
    a.add_argument("body_hex")
    args = p.parse_args()
    {"verify": cmd_verify, "sign": cmd_sign, "pae": cmd_pae}[args.cmd](args)


if __name__ == "__main__":
    main()
