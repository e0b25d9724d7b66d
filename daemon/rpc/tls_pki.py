"""The reader's own small PKI for the network transport: a CA, the server certificate, client certificates that
carry their role, and the revocation list. Pure certificate logic; files are written by ``daemon/cli/tls.py``.

A client's role is a SAN URI (``mynareader:role:reception``) set by the CA at issue: the daemon reads it from the
verified certificate, so a client can never choose its role. RSA keys, because mono and older Windows clients
cannot use EC keys from a PKCS#12 file.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ..errors import PkiError

ROLES = ("reception", "kiosk")
ROLE_URI = "mynareader:role:"
CA_YEARS = 20
SERVER_DAYS = 10 * 365
CLIENT_DAYS = 3 * 365

_DAY = dt.timedelta(days=1)
# the key kinds a CA can sign a revocation list with (this reader's own CA is RSA: make_ca)
_SIGNING_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, dsa.DSAPublicKey, ed25519.Ed25519PublicKey,
                 ed448.Ed448PublicKey)


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(common: str, unit: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mynareader")]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, key, not_before: dt.datetime,
             not_after: dt.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))


def make_ca(reader_name: str, now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = new_key(3072)
    name = _name(f"mynareader CA {reader_name}")
    cert = (_builder(name, name, key, now - _DAY, now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca_key, ca_cert: x509.Certificate, key, subject: x509.Name, san: list[x509.GeneralName],
          usage: x509.ObjectIdentifier, not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (_builder(subject, ca_cert.subject, key, not_before, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(ca_key, hashes.SHA256()))


def make_server(ca_key, ca_cert: x509.Certificate, hosts: Iterable[str], ips: Iterable[str],
                now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    hosts, addresses = list(dict.fromkeys(hosts)), []
    for ip in dict.fromkeys(ips):
        try:
            addresses.append(ipaddress.ip_address(ip))
        except ValueError:
            raise PkiError(f"{ip!r} is not an IP address (give host names with --host)") from None
    if not hosts and not addresses:
        raise PkiError("the server certificate needs at least one host name or IP address")
    san: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    san += [x509.IPAddress(a) for a in addresses]
    key = new_key()
    cert = _leaf(ca_key, ca_cert, key, _name(hosts[0] if hosts else str(addresses[0]), "server"), san,
                 ExtendedKeyUsageOID.SERVER_AUTH, now - _DAY, now + dt.timedelta(days=SERVER_DAYS))
    return key, cert


def check_client_name(name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise PkiError(f"{name!r}: a client name is 1-64 letters, digits, '-', '_' or '.' (it names the files), "
                       "e.g. reception-pc-1")


def issue_client(ca_key, ca_cert: x509.Certificate, name: str, role: str, now: dt.datetime,
                 days: int = CLIENT_DAYS, not_before: dt.datetime | None = None
                 ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    check_client_name(name)
    if role not in ROLES:
        raise PkiError(f"role {role!r}: choose reception or kiosk")
    key = new_key()
    start = not_before or now - dt.timedelta(minutes=5)
    cert = _leaf(ca_key, ca_cert, key, _name(name, role), [x509.UniformResourceIdentifier(ROLE_URI + role)],
                 ExtendedKeyUsageOID.CLIENT_AUTH, start, start + dt.timedelta(days=days))
    return key, cert


def role_of(cert: x509.Certificate) -> str | None:
    """The role the CA bound to a client certificate, or None (none, several, or unknown)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    return role_from_uris(san.get_values_for_type(x509.UniformResourceIdentifier))


def role_from_uris(uris: Iterable[str]) -> str | None:
    roles = {u[len(ROLE_URI):] for u in uris if u.startswith(ROLE_URI)}
    return roles.pop() if len(roles) == 1 and roles <= set(ROLES) else None


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else "?"


@dataclasses.dataclass(frozen=True)
class Revoked:
    serial: int
    when: dt.datetime


def make_crl(ca_key, ca_cert: x509.Certificate, revoked: Iterable[Revoked], now: dt.datetime) -> x509.CertificateRevocationList:
    # next_update far ahead: the reader checks this list itself and a clinic must not lock itself out by not
    # re-signing it; revocations take effect when the file changes
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(now - _DAY)
               .next_update(ca_cert.not_valid_after_utc))
    for r in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(r.serial).revocation_date(r.when).build())
    return builder.sign(ca_key, hashes.SHA256())


def revoked_serials(crl_pem: bytes, ca_cert: x509.Certificate) -> list[Revoked]:
    """The entries of a revocation list signed by this CA; PkiError if it is not one."""
    try:
        crl = x509.load_pem_x509_crl(crl_pem)
    except ValueError:
        raise PkiError("the revocation list is not a PEM CRL") from None
    ca_public = ca_cert.public_key()
    if (crl.issuer != ca_cert.subject or not isinstance(ca_public, _SIGNING_KEYS)
            or not crl.is_signature_valid(ca_public)):
        raise PkiError("the revocation list is not signed by this reader's CA")
    return [Revoked(r.serial_number, r.revocation_date_utc) for r in crl]


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pkcs12_bundle(name: str, key, cert: x509.Certificate, ca_cert: x509.Certificate, password: str) -> bytes:
    """PKCS#12 for Windows/.NET, mono and Java. 3DES/SHA-1 protection: mono and Windows 10 cannot open the
    AES form. The password guards the file in transit only; keep the file itself where only the client reads it."""
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(50000)
                  .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
                  .build(password.encode()))
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, [ca_cert], encryption)
