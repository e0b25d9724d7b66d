"""The network drop-in keeps the service unit's hardening: it verifies, and the exposure stays OK with it."""
import re
import subprocess

from test_systemd import ANALYZE, UNITS, units_copy


def test_service_with_the_network_drop_in_is_still_ok(tmp_path):
    d = units_copy(tmp_path)
    dropin = (UNITS / "mynareader-network.conf").read_text()
    assert "IPAddressDeny" not in dropin.replace("IPAddressDeny=any stays", "")   # the deny-all is kept
    service = d / "mynareader.service"
    service.write_text(service.read_text() + "\n" + dropin)   # what systemd does with a drop-in's [Service]
    out = subprocess.run([ANALYZE, "verify", "--man=no", "mynareader.service", "mynareader-reception.socket",
                          "mynareader-kiosk.socket"], cwd=d, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "error" not in out.stderr.lower(), out.stderr
    out = subprocess.run([ANALYZE, "security", "--offline=true", str(service)], capture_output=True, text=True,
                         timeout=60)
    match = re.search(r"Overall exposure level for mynareader.service: ([\d.]+) (\w+)", out.stdout)
    assert match, out.stdout[-500:] + out.stderr
    assert match.group(2) in ("SAFE", "OK") and float(match.group(1)) <= 3.0, match.group(0)
    assert "AF_INET" in out.stdout or "RestrictAddressFamilies" in out.stdout
