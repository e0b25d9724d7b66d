"""The patient's touchscreen as a local web page (``mynareader kiosk-web``).

    browser (chromium --kiosk) ──WebSocket /ws──> server.py (aiohttp, 127.0.0.1) ──one connection──> kiosk.sock

The page reaches only the kiosk socket, and only the methods in :data:`bridge.ALLOWED`; reception-role methods
are not forwarded whatever the page sends. Everything the page needs ships in ``static/``; the UI font is read
from Debian's font package. No network is used.
"""
