"""TEST ONLY (tests/test_image.py): kiosk-web as seen by the user this runs as - the page's status, and whether
the WebSocket that carries PINs opens (101) or is refused (403). Prints "page=STATUS bytes=N ws=STATUS"."""
import base64
import os
import socket
import urllib.request

page = urllib.request.urlopen("http://127.0.0.1:8765/", timeout=30)
size = len(page.read())
with socket.create_connection(("127.0.0.1", 8765), timeout=30) as s:
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:8765\r\n\r\n")
              .encode())
    ws = s.recv(200).split(b" ", 2)[1].decode()
print(f"page={page.status} bytes={size} ws={ws}")
