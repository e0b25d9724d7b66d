"""``mynareader tls init|issue|revoke|list``: the reader's CA, its server certificate and the clients' certificates
for the network transport. Keys are made here, on the reader; private keys are written 0600.

Files in the TLS directory (default /etc/mynareader/tls, the [network] defaults):
  ca.pem ca.key           the reader's CA (ca.key stays root's; back it up offline or lose the power to issue)
  server.pem server.key   what the reader shows clients (server.key is given to the service's user)
  crl.pem                 revoked client certificates; the reader reads it again when it changes
  issued/SERIAL.pem       a copy of every client certificate issued, for list and revoke
"""
from __future__ import annotations

import datetime as dt
import os
import pwd
import secrets
import socket
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..rpc import tls_pki as pki
from .util import CliFail

DEFAULT_DIR = "/etc/mynareader/tls"
SERVICE_USER = "mynareader"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _write(path: Path, data: bytes, mode: int, owner: str | None = None) -> None:
    """Atomically (the daemon may read the file at any moment), created with its final mode: a private key is
    never readable by others, not even for an instant."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)       # whatever the umask
        if owner and os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(owner)
                os.chown(tmp, entry.pw_uid, entry.pw_gid)
            except KeyError:
                pass              # a bench without the service's user
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load_ca(d: Path):
    try:
        cert = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((d / "ca.key").read_bytes(), None)
    except FileNotFoundError:
        raise CliFail(f"there is no CA in {d}; run 'mynareader tls init' first") from None
    except PermissionError:
        raise CliFail(f"the CA key in {d} is root's; run this command as root (sudo)") from None
    return key, cert


def _issued(d: Path) -> list[x509.Certificate]:
    out = []
    for f in sorted((d / "issued").glob("*.pem")):
        try:
            out.append(x509.load_pem_x509_certificate(f.read_bytes()))
        except ValueError:
            print(f"mynareader: skipping {f}: not a certificate", file=sys.stderr)
    return out


def _revoked(d: Path, ca_cert) -> list[pki.Revoked]:
    crl = d / "crl.pem"
    return pki.revoked_serials(crl.read_bytes(), ca_cert) if crl.exists() else []


def cmd_init(args) -> int:
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True, mode=0o755)
    (d / "issued").mkdir(exist_ok=True, mode=0o700)
    now = _now()
    if (d / "ca.pem").exists() and not args.new_ca:
        ca_key, ca_cert = _load_ca(d)
        print(f"keeping the CA in {d} (client certificates issued so far stay valid)")
    else:
        ca_key, ca_cert = pki.make_ca(args.name or socket.gethostname(), now)
        _write(d / "ca.key", pki.key_pem(ca_key), 0o600)
        _write(d / "ca.pem", pki.cert_pem(ca_cert), 0o644)
        _write(d / "crl.pem", pki.make_crl(ca_key, ca_cert, [], now).public_bytes(serialization.Encoding.PEM), 0o644)
        for old in (d / "issued").glob("*.pem"):
            old.unlink()          # issued by a CA that is gone: they no longer work
        print(f"made a new CA in {d}; ca.key is the power to issue certificates: keep a copy offline")
    if not (d / "crl.pem").exists():
        _write(d / "crl.pem", pki.make_crl(ca_key, ca_cert, [], now).public_bytes(serialization.Encoding.PEM), 0o644)
    hostname = socket.gethostname()
    hosts = args.host or [hostname, f"{hostname}.local", "localhost"]
    ips = args.ip if args.ip else ["127.0.0.1", "::1"]
    key, cert = pki.make_server(ca_key, ca_cert, hosts, ips, now)
    _write(d / "server.key", pki.key_pem(key), 0o600, owner=SERVICE_USER)
    _write(d / "server.pem", pki.cert_pem(cert), 0o644)
    print(f"server certificate for {', '.join(hosts + ips)} (valid until {cert.not_valid_after_utc:%Y-%m-%d})")
    print("next: set [network] listen in /etc/mynareader/mynareader.toml, then 'mynareader tls issue NAME --role "
          "reception --out DIR' for each client")
    return 0


def cmd_issue(args) -> int:
    d = Path(args.dir)
    ca_key, ca_cert = _load_ca(d)
    key, cert = pki.issue_client(ca_key, ca_cert, args.name, args.role, _now(), days=args.days)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = args.password or secrets.token_urlsafe(12)
    _write(out / f"{args.name}.key", pki.key_pem(key), 0o600)
    _write(out / f"{args.name}.pem", pki.cert_pem(cert), 0o644)
    _write(out / f"{args.name}.p12", pki.pkcs12_bundle(args.name, key, cert, ca_cert, password), 0o600)
    _write(out / "ca.pem", pki.cert_pem(ca_cert), 0o644)
    (d / "issued").mkdir(exist_ok=True, mode=0o700)
    _write(d / "issued" / f"{cert.serial_number:x}.pem", pki.cert_pem(cert), 0o644)
    print(f"issued {args.name} ({args.role}), serial {cert.serial_number:x}, valid until "
          f"{cert.not_valid_after_utc:%Y-%m-%d}")
    print(f"files in {out}: {args.name}.p12 (Windows/.NET, Java), {args.name}.pem + {args.name}.key (others), "
          "ca.pem (to check the reader)")
    if not args.password:
        print(f"password of {args.name}.p12: {password}")
    return 0


def cmd_revoke(args) -> int:
    d = Path(args.dir)
    ca_key, ca_cert = _load_ca(d)
    revoked = _revoked(d, ca_cert)
    done = {r.serial for r in revoked}
    wanted = args.which.lower()
    matches = [c for c in _issued(d) if pki.common_name(c) == args.which or f"{c.serial_number:x}" == wanted]
    if not matches:
        try:
            serial = int(wanted, 16)    # a certificate not in issued/ (e.g. copied from a client's PC)
        except ValueError:
            raise CliFail(f"no certificate named or numbered {args.which!r}; 'mynareader tls list' "
                                  "shows them") from None
        targets = [serial]
    else:
        targets = [c.serial_number for c in matches]
    new = [s for s in targets if s not in done]
    if not new:
        print(f"{args.which} is already revoked")
        return 0
    now = _now()
    crl = pki.make_crl(ca_key, ca_cert, revoked + [pki.Revoked(s, now) for s in new], now)
    _write(d / "crl.pem", crl.public_bytes(serialization.Encoding.PEM), 0o644)
    print(f"revoked {', '.join(f'{s:x}' for s in new)}; the reader refuses it from its next connection "
          "(a connection open now is not cut: restart the service to end it)")
    return 0


def cmd_list(args) -> int:
    d = Path(args.dir)
    try:
        ca_cert = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    except FileNotFoundError:
        raise CliFail(f"there is no CA in {d}; run 'mynareader tls init' first") from None
    revoked = {r.serial for r in _revoked(d, ca_cert)}
    now = _now()
    rows = []
    for c in _issued(d):
        status = "revoked" if c.serial_number in revoked else "expired" if c.not_valid_after_utc < now else "valid"
        rows.append((pki.common_name(c), pki.role_of(c) or "?", f"{c.serial_number:x}",
                     f"{c.not_valid_after_utc:%Y-%m-%d}", status))
    print(f"{'NAME':<24} {'ROLE':<10} {'SERIAL':<42} {'UNTIL':<10} STATUS")
    for row in rows:
        print(f"{row[0]:<24} {row[1]:<10} {row[2]:<42} {row[3]:<10} {row[4]}")
    if not rows:
        print("(no client certificates issued yet)")
    return 0


def register(groups) -> None:
    g = groups["tls"]
    commands = {
        "init": (cmd_init, "make the reader's CA (once) and its server certificate (as root)"),
        "issue": (cmd_issue, "issue a client certificate bound to a role: key, certificate and PKCS#12"),
        "revoke": (cmd_revoke, "revoke a client certificate by name or serial (the reader refuses it at once)"),
        "list": (cmd_list, "list the client certificates issued, with their role and status"),
    }
    for name, (fn, text) in commands.items():
        p = g.add_parser(name, help=text, description=text)
        p.add_argument("--dir", default=DEFAULT_DIR, help=f"the TLS directory (default {DEFAULT_DIR})")
        if name == "init":
            p.add_argument("--host", action="append", metavar="NAME",
                           help="a host name clients use to reach the reader (repeat; default: this host's name, "
                                "NAME.local and localhost)")
            p.add_argument("--ip", action="append", metavar="ADDRESS",
                           help="an IP address clients use (repeat; default 127.0.0.1 and ::1 only)")
            p.add_argument("--name", help="the reader's name in the CA (default: the host name)")
            p.add_argument("--new-ca", action="store_true",
                           help="replace the CA: every client certificate issued so far stops working")
        elif name == "issue":
            p.add_argument("name", help="the client's name, e.g. reception-pc-1")
            p.add_argument("--role", required=True, choices=pki.ROLES)
            p.add_argument("--out", required=True, metavar="DIR", help="where to write the client's files")
            p.add_argument("--days", type=int, default=pki.CLIENT_DAYS, help="validity (default 3 years)")
            p.add_argument("--password", help="password of the PKCS#12 file (default: a random one, printed)")
        elif name == "revoke":
            p.add_argument("which", metavar="NAME|SERIAL")
        p.set_defaults(func=fn)
