"""Every field a client receives is described in the OpenRPC document: real results, events and status from the
service on the bench devices are validated against its schemas, which refuse undocumented fields."""
import jsonschema
import pytest

from mynareader.daemon.rpc.client import Client
from mynareader.daemon.service.protocol import openrpc_document
from mynareader.device.bench_control import send_control


def _validator(ref: str) -> jsonschema.Draft202012Validator:
    doc = openrpc_document()
    return jsonschema.Draft202012Validator({"$ref": ref, "components": doc["components"]})


def _check(ref: str, value) -> None:
    errors = sorted(_validator(ref).iter_errors(value), key=str)
    assert not errors, f"{ref}: {errors[0].message} at {list(errors[0].absolute_path)}"


def _check_result(method: str, value) -> None:
    doc = openrpc_document()
    (schema,) = [m["result"]["schema"] for m in doc["methods"] if m["name"] == method]
    errors = list(jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).iter_errors(value))
    assert not errors, f"{method}: {errors[0].message}"


def _steps(kiosk, until):
    while True:
        params = kiosk.next_event(60, name="step.changed")["params"]
        if params["step"] == until:
            return params


@pytest.mark.parametrize("path", ["face", "pin", "staff", "registration"])
def test_results_events_and_status_match_the_documented_schemas(reader, path):
    config = reader
    control = lambda line: send_control(config.bench.control, line)   # noqa: E731
    with Client(config.sockets.reception) as reception, Client(config.sockets.kiosk) as kiosk:
        reception.call("subscribe", events=["*"])
        kiosk.call("subscribe", events=["step.changed"])
        if path == "registration":
            reception.call("mode.set", mode="registration")
        control("insert fresh")
        _steps(kiosk, "choose_method")
        _check("#/components/schemas/Status", reception.call("status"))
        current = kiosk.call("kiosk.current")
        _check_result("kiosk.current", current)
        assert current["timeout"]["seconds_left"] <= current["timeout"]["idle_timeout"]
        if path == "staff":
            _check_result("kiosk.call_staff", kiosk.call("kiosk.call_staff", reason="help"))
            _check_result("kiosk.still_here", kiosk.call("kiosk.still_here"))
            kiosk.call("kiosk.choose_method", method="staff")
            reception.call("session.confirm_visual", staff="受付1")
        else:
            kiosk.call("kiosk.choose_method", method="face" if path == "face" else "pin")
            if path != "face":
                _steps(kiosk, "pin_entry")
                kiosk.call("kiosk.submit_pin", pin="1234")
        if path == "registration":
            _steps(kiosk, "registration_confirm")
            kiosk.call("kiosk.answer", screen="registration", answer="agree")
        else:
            _steps(kiosk, "consent")
            kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
        seen = []                                       # every event reception got, in order, until the end
        while not seen or seen[-1]["method"] != "session.ended":
            seen.append(reception.next_event(60))
        control("remove")
        (result,) = [e["params"] for e in seen if e["method"] == "result"]
        _check("#/components/schemas/Result", result)
        assert result["identity"]["method"] == {"staff": "visual", "registration": "pin"}.get(path, path)
        events = openrpc_document()["components"]["x-event-params"]
        assert {e["method"] for e in seen} <= set(events)
        assert {"session.started", "step.changed", "result", "session.ended"} <= {e["method"] for e in seen}
        assert path != "staff" or "staff.called" in {e["method"] for e in seen}
        for event in seen:
            _check(events[event["method"]]["$ref"], event["params"])
        _check("#/components/schemas/Status", reception.call("status"))
