"""Check what the card signed in a PIN result: python3 verify_signature.py < result.json

The card signs the challenge (the nonce reception set with session.set_challenge, or the reader's own) with the
private key of its user-authentication certificate, RSASSA-PKCS1-v1_5 with SHA-256. The result carries the
certificate (DER, base64) and the signature; this checks one against the other with the `cryptography` package.
A clinic that sets its own fresh challenge per session knows the signature was made now, by the card whose
certificate this is. Whether the certificate itself is valid and not revoked is the JPKI's to answer (its OCSP
service, through the clinic's online qualification system), not this script's.
"""
import base64
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding


def verify(result: dict) -> str:
    identity = result["identity"]
    if identity["method"] != "pin":
        raise ValueError(f"a {identity['method']} result carries no signature; only PIN results do")
    signed = identity["signature"]
    cert = x509.load_der_x509_certificate(base64.b64decode(result["certificate"]["der"]))
    cert.public_key().verify(base64.b64decode(signed["signature"]), base64.b64decode(signed["challenge"]),
                             padding.PKCS1v15(), hashes.SHA256())      # raises InvalidSignature if it does not hold
    return f"signature valid: challenge {signed['challenge']} signed by the card with certificate {cert.serial_number:X}"


if __name__ == "__main__":
    try:
        print(verify(json.load(sys.stdin)))
    except Exception as exc:            # an example: say what failed, in one line
        print(f"signature NOT valid: {type(exc).__name__} {exc}", file=sys.stderr)
        sys.exit(1)
