"""The terminal patient screen drives a whole reception from typed answers."""
import subprocess
import sys
import time
from pathlib import Path

from mynareader.daemon.app.inprocess import InProcessReader, demo_config
from mynareader.daemon.rpc.client import Client
from mynareader.device.bench_control import send_control

EXE = str(Path(sys.executable).with_name("mynareader"))


def test_kiosk_tty_reception_with_pin(tmp_path):
    config = demo_config(tmp_path, profile="empty")
    reader = InProcessReader(config)
    try:
        with Client(config.sockets.reception) as reception:
            reception.call("subscribe", events=["result"])
            send_control(config.bench.control, "insert fresh")
            proc = subprocess.Popen([EXE, "kiosk-tty", "--socket", config.sockets.kiosk], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
            # choose_method: 1 face, 2 pin -> 2; PIN; comprehensive consent: 1 agree
            for answer in ("2", "1234", "1"):
                time.sleep(1.0)
                proc.stdin.write(answer + "\n")
                proc.stdin.flush()
            result = reception.next_event(30, name="result")["params"]
            time.sleep(0.5)
            proc.terminate()
            out = proc.communicate(timeout=10)[0]
        assert result["identity"]["method"] == "pin" and len(result["consents"]) == 3
        assert "本人確認の方法を選んでください。" in out and "2. 暗証番号 / PIN" in out
        assert "1234" not in out
    finally:
        reader.close()


def test_kiosk_tty_iphone_unlock_then_android_pin(tmp_path):
    config = demo_config(tmp_path, profile="empty")
    reader = InProcessReader(config)
    try:
        with Client(config.sockets.reception) as reception:
            reception.call("subscribe", events=["result", "session.ended"])
            send_control(config.bench.control, "insert iphone")
            proc = subprocess.Popen([EXE, "kiosk-tty", "--socket", config.sockets.kiosk], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)
            assert send_control(config.bench.control, "unlock 60") == "ok"
            # phone_unlock: 1 unlocked; comprehensive consent: 1 agree
            for answer in ("1", "1"):
                proc.stdin.write(answer + "\n")
                proc.stdin.flush()
                time.sleep(1.0)
            iphone = reception.next_event(30, name="result")["params"]
            send_control(config.bench.control, "swap android")
            # Android: straight to its PIN (no method to choose); consent: 1 agree
            for answer in ("1234", "1"):
                time.sleep(1.0)
                proc.stdin.write(answer + "\n")
                proc.stdin.flush()
            android = reception.next_event(30, name="result")["params"]
            time.sleep(0.5)
            proc.terminate()
            out = proc.communicate(timeout=10)[0]
        assert iphone["token"] == "iphone" and iphone["identity"]["method"] == "device_unlock"
        assert android["token"] == "android" and android["identity"]["method"] == "pin"
        assert "1. ロックを解除しました / I have unlocked it" in out and "Face ID または Touch ID でロックを解除" in out
        assert "スマートフォン用電子証明書の4桁の暗証番号を入力してください。" in out and "1234" not in out
    finally:
        reader.close()
