#!/usr/bin/env python3
"""An independent check of a gws-conform certificate bundle, with tools nobody here
wrote: securesystemslib verifies the DSSE envelope's Ed25519 signature (its own PAE and
key handling, pyca/cryptography underneath) and in-toto-attestation validates the
Statement v1 (parsed with protobuf's json_format into the in-toto Statement message).
Then every subject's sha256 is recomputed with hashlib and the folder's files are
compared with the subjects (none missing, none extra).

Usage: verify-bundle.py BUNDLE_DIR PUBLIC_KEY_PEM     exit 0 verified, 1 not
Installed by .ci/run into target/validators-venv (pip: securesystemslib cryptography
in-toto-attestation)."""
import base64, hashlib, json, os, sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key, Encoding, PublicFormat
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement

ATTESTATION = "attestation.dsse.json"

def main(bundle, pub_pem):
    pub = load_pem_public_key(open(pub_pem, "rb").read())
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    keyid = "SHA256:" + hashlib.sha256(raw).hexdigest()
    key = SSlibKey.from_crypto(pub, keyid=keyid)
    env = Envelope.from_dict(json.load(open(os.path.join(bundle, ATTESTATION))))
    env.verify([key], 1)  # raises VerificationError unless a signature of key verifies
    if env.payload_type != "application/vnd.in-toto+json":
        sys.exit(f"payloadType is {env.payload_type!r}")
    pb = json_format.Parse(env.payload.decode(), statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    st = json.loads(env.payload)
    attested = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
    found = {}
    for d, _, fs in os.walk(bundle):
        for f in fs:
            p = os.path.join(d, f)
            name = os.path.relpath(p, bundle).replace(os.sep, "/")
            if name != ATTESTATION:
                found[name] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    bad = sorted(set(attested) ^ set(found)) + sorted(n for n in found if n in attested and attested[n] != found[n])
    if bad:
        sys.exit("files not as attested: " + ", ".join(bad))
    print(f"independently verified: DSSE signature by {keyid}, in-toto Statement v1 "
          f"({st['predicateType']}), {len(attested)} subjects match")

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
