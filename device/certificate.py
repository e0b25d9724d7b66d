"""What the reader needs from a JPKI certificate, parsed from DER. Pure code."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives import hashes

from .errors import MalformedResponse


@dataclasses.dataclass(frozen=True)
class CertificateInfo:
    der: bytes
    serial: int
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    def summary(self) -> dict:
        return {"serial": format(self.serial, "X"), "subject": self.subject, "issuer": self.issuer,
                "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
                "sha256": self.sha256}

    def verify_signature(self, digest_info_signature: bytes, message: bytes) -> bool:
        """True when ``digest_info_signature`` is a PKCS#1 v1.5 SHA-256 signature of ``message`` by this key."""
        key = x509.load_der_x509_certificate(self.der).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        try:
            key.verify(digest_info_signature, message, padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return False
        return True


def parse_certificate(der: bytes) -> CertificateInfo:
    try:
        cert = x509.load_der_x509_certificate(bytes(der))
        return CertificateInfo(der=bytes(der), serial=cert.serial_number, subject=cert.subject.rfc4514_string(),
                               issuer=cert.issuer.rfc4514_string(), not_before=cert.not_valid_before_utc,
                               not_after=cert.not_valid_after_utc)
    except (ValueError, TypeError) as exc:
        raise MalformedResponse(f"the certificate does not parse: {exc}") from None
