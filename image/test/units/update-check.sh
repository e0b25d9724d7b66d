#!/bin/sh
# TEST ONLY (tests/test_image_update.py): one boot of the A/B update test. The plan (update-plan, beside this
# script) lists the steps of this boot; each reports "MRTEST key value" lines on the console.
say() { echo "MRTEST $*"; }
here=/run/systemd/generator
backend=/usr/lib/mynareader/rauc-bootloader
say booted "$($backend get-current)"
say committed "$($backend get-committed)"
touch /run/mrtest-reported          # the hung release (tests/test_image_update.py) waits for this before it hangs
sectors_written() { awk '{print $7}' "/sys/class/block/$(basename "$(readlink -f "$1")")/stat"; }
head_hash() { head -c 64M "$1" | sha256sum | cut -c1-16; }
bundles() {
    mountpoint -q /run/mrtest-bundles && return
    mkdir -p /run/mrtest-bundles && mount -t 9p -o trans=virtio,version=9p2000.L,ro bundles /run/mrtest-bundles
}
rows() {  # the store's lockout and counter tables, as the daemon keeps them
    /usr/bin/python3 - <<'PY'
import hashlib, sqlite3
db = sqlite3.connect("file:/var/lib/mynareader/state.sqlite3?mode=ro", uri=True)
rows = [("failures",) + r for r in db.execute("SELECT card, kind, session, at FROM failures ORDER BY card, kind, at")]
rows += [("face_lifts",) + r for r in db.execute("SELECT card, staff, at FROM face_lifts ORDER BY card, at")]
print(len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16])
PY
}
for step in $(cat "$here/update-plan"); do
    case $step in
    wait-health)
        # the health unit is a oneshot: inactive until its turn, activating while it waits for the reader, then
        # active (RemainAfterExit) or failed
        while case $(systemctl show -P ActiveState mynareader-health.service) in inactive|activating) true ;; *) false ;; esac; do
            sleep 5
        done
        say health "$(systemctl show -P ActiveState mynareader-health.service)" "$(systemctl show -P ActiveState mynareader.service)"
        journalctl -b -t mynareader-health -o cat --no-pager | while read -r line; do say healthlog "$line"; done ;;
    report)
        say primary "$($backend get-primary)"
        say state "A=$($backend get-state A) B=$($backend get-state B)"
        say record "$(paste -sd' ' /data/mynareader-update 2>/dev/null)"
        say ca "$(sha256sum /etc/mynareader/tls/ca.pem | cut -c1-16)"
        say rows "$(rows)"
        say watchdog "$(cat /sys/class/watchdog/watchdog0/identity 2>/dev/null)" "$(cat /sys/class/watchdog/watchdog0/state 2>/dev/null)"
        say bundle "$(rauc status --detailed --output-format=json 2>/dev/null | /usr/bin/python3 -c 'import json, sys
s = json.load(sys.stdin)
for slot in s["slots"]:
    for name, v in slot.items():
        if name.startswith("system."):
            print(v.get("bootname"), (v.get("slot_status") or {}).get("bundle", {}).get("version", "-"), end=" ")')"
        /opt/mynareader/.venv/bin/mynareader client metrics 2>&1 | /usr/bin/python3 -c 'import json, sys
def walk(v):
    if isinstance(v, str):
        for line in v.splitlines():
            if line.startswith(("mynareader_info", "mynareader_update_rolled_back", "mynareader_store_ok")):
                print(line)
    elif isinstance(v, dict):
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
walk(json.load(sys.stdin))' | while read -r line; do say metric "$line"; done ;;
    seed)
        # a card with failures and a lifted face lock, as the daemon records them, to follow across the updates
        /usr/bin/python3 - <<'PY'
import sqlite3, time
db = sqlite3.connect("/var/lib/mynareader/state.sqlite3", isolation_level=None, timeout=10)
now = time.time()
db.executemany("INSERT INTO failures VALUES (?, ?, ?, ?)",
               [("mrtest-card", "pin", "mrtest-1", now - 30), ("mrtest-card", "face", "mrtest-1", now - 20),
                ("mrtest-card", "face", "mrtest-2", now - 10)])
db.execute("INSERT INTO face_lifts VALUES (?, ?, ?)", ("mrtest-card", "受付1", now - 5))
PY
        say seeded "$(rows)" ;;
    install=*)
        bundles
        name=${step#install=}
        before="$(head_hash /dev/disk/by-partlabel/system_b) $(head_hash /dev/disk/by-partlabel/boot_b)"
        started=$(date +%s)
        rauc install "/run/mrtest-bundles/$name" > /run/mrtest-install.log 2>&1
        rc=$?
        say install "$name" "rc=$rc" "$(( $(date +%s) - started ))s"
        tail -3 /run/mrtest-install.log | while read -r line; do say installlog "$line"; done
        after="$(head_hash /dev/disk/by-partlabel/system_b) $(head_hash /dev/disk/by-partlabel/boot_b)"
        say slotb "$([ "$before" = "$after" ] && echo unchanged || echo written)" ;;
    cut=*)
        # start an install and say when it is writing slot B for real: the test cuts the power then
        bundles
        base=$(sectors_written /dev/disk/by-partlabel/system_b)
        rauc install "/run/mrtest-bundles/${step#cut=}" > /run/mrtest-install.log 2>&1 &
        while sleep 1; do
            now=$(sectors_written /dev/disk/by-partlabel/system_b)
            if [ $(( (now - base) / 2048 )) -ge 200 ]; then say writing "$(( (now - base) / 2048 ))MiB"; break; fi
        done
        sleep 600 ;;
    reboot) say rebooting; $backend reboot ;;
    poweroff) say poweroff; systemctl poweroff ;;
    esac
done
say done
