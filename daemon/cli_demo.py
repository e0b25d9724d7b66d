"""``mynareader demo``: what the reader reads from a card, on the built-in virtual card. No hardware needed.

It grows into a full reception (kiosk + reception sockets) with the daemon; for now it walks the card layer
through what a reception does: identify the token, read the certificate and counters, open the card face with
照合番号B from the bench card-face source, and prove the PIN by signing a challenge.
"""
from __future__ import annotations

import hashlib
import secrets
import tempfile

from ..device.card import MyNumberCard
from ..device.pin import Pin
from ..device.transport import open_reader
from .cli_card import card_summary


def cmd_demo(args) -> int:
    with tempfile.TemporaryDirectory(prefix="mynareader-demo-") as state:
        transport = open_reader(f"sim://{args.profile}?state={state}")
        card = MyNumberCard(transport)
        print(f"Virtual My Number Card '{args.profile}' placed on the in-process reader (test PIN 1234).")
        card.connect()
        info = card_summary(card)
        cert = info.get("auth_cert", {})
        print(f"  token:               {info['token']}")
        print(f"  certificate serial:  {cert.get('serial')}  (valid until {cert.get('not_after', '?')[:10]})")
        print(f"  certificate state:   {info.get('certificate_state')}")
        print(f"  PIN tries left:      {info.get('pin_tries_left')}")
        print(f"  照合番号B tries left: {info.get('kenmen_tries_left')}")
        print(f"  APDUs so far:        {transport.stats.apdus} ({transport.stats.bytes_in} bytes in)")
        if info.get("kenmen_tries_left"):
            # the bench card-face source: on a real reader this comes from scanning the printed card face
            with Pin(transport.slot.card.check_code_b, min_len=14, max_len=14) as code:
                card.verify_kenmen_b(code)
            face = card.read_card_face()
            photo = face.photo()
            print(f"  card face:           photo {photo.size[0]}x{photo.size[1]} {photo.mode} "
                  f"(JPEG 2000, {len(face.photo_jp2)} bytes), card valid until {face.expiry}")
        if info.get("pin_tries_left"):
            challenge = secrets.token_bytes(32)
            with Pin("1234") as pin:
                card.verify_pin(pin)
            signature = card.sign_digest(hashlib.sha256(challenge).digest())
            ok = card.auth_certificate().verify_signature(signature, challenge)
            print(f"  PIN verified; challenge signed ({len(signature)} bytes), "
                  f"signature {'verifies' if ok else 'DOES NOT verify'} under the certificate")
        print(f"Total: {transport.stats.apdus} APDUs, {transport.stats.bytes_in} bytes from the card.")
        transport.close()
    return 0


def register(groups) -> None:
    p = groups["_top"].add_parser("demo", help="read the built-in virtual card as a reception would (no hardware)")
    p.add_argument("--profile", default="fresh", help="virtual card profile (see 'mynareader mock card --help')")
    p.set_defaults(func=cmd_demo)
