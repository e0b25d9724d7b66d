"""The live verifier on the bench camera: verdicts, guidance, small movements, a camera that goes away."""
import pytest

from mynareader.daemon.face.onnx_models import manifest

from mynareader.daemon.face.images import load_image
from mynareader.daemon.face.pipeline import FacePipeline
from mynareader.daemon.face.verifier import FaceVerifier, Guidance, Verdict
from mynareader.device.errors import CameraGone
from mynareader.device.registry import open_camera
from mynareader.device.camera.bench import ASSETS


@pytest.fixture(scope="module")
def verifier():
    v = FaceVerifier(FacePipeline())
    v.set_reference(load_image(ASSETS / "holder.png"))
    return v


def run(verifier, camera, frames=20):
    verifier.reset()
    out = []
    for _ in range(frames):
        r = verifier.feed(camera.read())
        if r is not None:
            out.append(r)
        if isinstance(r, Verdict):
            break
    return out


def test_holder_matches_and_other_does_not(verifier):
    cam = open_camera("bench://holder?seed=1")
    (verdict,) = run(verifier, cam)
    assert verdict.match and verdict.score >= verdict.threshold and verdict.model == manifest()["default_descriptor"]
    cam.control("show other")
    verdict = run(verifier, cam)[-1]
    assert isinstance(verdict, Verdict) and not verdict.match and verdict.frames == 8


@pytest.mark.parametrize("scene,code", [("dark", "too_dark"), ("noface", "no_face"), ("two-faces", "one_person")])
def test_unusable_frames_give_guidance_not_verdicts(verifier, scene, code):
    cam = open_camera("bench://holder")
    cam.control(scene)
    out = run(verifier, cam, frames=6)
    assert [g.code for g in out] == [code]          # said once, not on every frame
    assert all(isinstance(g, Guidance) for g in out)


def test_guidance_between_good_frames_does_not_restart_the_evidence(verifier):
    cam = open_camera("bench://holder?seed=3")
    verifier.reset()
    assert verifier.feed(cam.read()) is None        # one good frame of two needed
    cam.control("noface")
    assert verifier.feed(cam.read()).code == "no_face"
    cam.control("show holder")
    verdict = verifier.feed(cam.read())
    assert isinstance(verdict, Verdict) and verdict.match and verdict.frames == 2


def test_a_camera_that_disappears_raises_camera_gone():
    cam = open_camera("bench://holder")
    cam.read()
    cam.control("unplug")
    with pytest.raises(CameraGone):
        cam.read()
    cam.control("replug")
    assert cam.read().shape == (480, 640, 3)


def test_replay_camera_loops_and_reports_missing_frames(tmp_path):
    from PIL import Image
    for i in range(3):
        Image.new("RGB", (64, 48), (i * 50, 0, 0)).save(tmp_path / f"{i:03d}.png")
    cam = open_camera(f"replay://{tmp_path}")
    reds = [int(cam.read()[0, 0, 0]) for _ in range(4)]
    assert reds == [0, 50, 100, 0]
    with pytest.raises(CameraGone):
        open_camera(f"replay://{tmp_path / 'none'}")


def test_unknown_camera_scheme_is_clear():
    from mynareader.device.errors import BadDeviceUrl
    with pytest.raises(BadDeviceUrl, match="unknown camera URL scheme"):
        open_camera("usbcam://0")


def test_liveness_and_alignment_run_the_face_mesh_once_a_frame():
    """The default descriptor aligns on the face mesh's points, and the liveness check reads the same mesh: one
    model, run once a frame, whichever of the two needs it first."""
    pipeline = FacePipeline()
    assert pipeline.mesh is not None
    v = FaceVerifier(pipeline, liveness=True)
    assert v.mesh is pipeline.mesh
    v.set_reference(load_image(ASSETS / "holder.png"))
    runs = []
    real = pipeline.mesh.session.run
    pipeline.mesh.session.run = lambda *a, **k: runs.append(1) or real(*a, **k)
    cam = open_camera("bench://holder?seed=1")
    faces = 0
    for n in range(6):
        rgb = cam.read()
        faces += len(pipeline.detect(rgb)) == 1
        v.feed(rgb, now=n / 10)
    assert v.scores, "frames were compared while the liveness check was still running"
    assert len(runs) == faces == 6
