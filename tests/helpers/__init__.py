"""What the tests share: bench devices on every backend, the real daemon on the bench, pcscd, flow and TLS helpers."""
