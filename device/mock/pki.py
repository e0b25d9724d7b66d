"""A throwaway test PKI for the virtual card: a CA and, per profile, RSA-2048 user-auth and signature keys.

Keys are made once per state directory and reused, like a card's keys; certificates are re-issued when the
profile's dates move (they depend on today). Nothing here is a real JPKI certificate.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_CA_NAME = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mynareader TEST ONLY"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "TEST JPKI user authentication CA")])


# Parsed keys by file (and its mtime): parsing a 2048-bit key checks it and takes ~28 ms with the interpreter
# lock held, so a bench inserting cards in the daemon's own process (sim://) would stall its event loop.
_parsed: dict[Path, tuple[int, rsa.RSAPrivateKey]] = {}


def _key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        mtime = path.stat().st_mtime_ns
        cached = _parsed.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        _parsed[path] = (mtime, key)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    os.replace(tmp, path)
    _parsed[path] = (path.stat().st_mtime_ns, key)
    return key


def _as_dt(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 14, 59, 59, tzinfo=dt.timezone.utc)  # 23:59:59 JST


class TestPki:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_key = _key(self.dir / "ca.key.pem")
        self.ca_der = self._issue_ca()

    def _issue_ca(self) -> bytes:
        path = self.dir / "ca.der"
        if path.exists():
            return path.read_bytes()
        now = dt.datetime(2014, 1, 1, tzinfo=dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(_CA_NAME).issuer_name(_CA_NAME)
                .public_key(self.ca_key.public_key()).serial_number(1)
                .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365 * 40))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(self.ca_key, hashes.SHA256()))
        der = cert.public_bytes(serialization.Encoding.DER)
        path.write_bytes(der)
        return der

    def holder_keys(self, profile: str) -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
        return _key(self.dir / f"{profile}.auth.key.pem"), _key(self.dir / f"{profile}.sign.key.pem")

    def issue(self, profile: str, key: rsa.RSAPrivateKey, not_before: dt.date, not_after: dt.date,
              purpose: str) -> bytes:
        """A DER certificate for ``key``; the serial is stable per (profile, purpose, dates)."""
        seed = f"{profile}/{purpose}/{not_before}/{not_after}".encode()
        serial = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") | 1
        # The JPKI user-authentication certificate carries no personal information in its subject.
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mynareader TEST ONLY"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"TEST {purpose} {serial:X}")])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(_CA_NAME)
                .public_key(key.public_key()).serial_number(serial)
                .not_valid_before(_as_dt(not_before)).not_valid_after(_as_dt(not_after))
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=purpose == "signature",
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=False, crl_sign=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(self.ca_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.DER)
