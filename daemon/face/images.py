"""Images as RGB uint8 numpy arrays, from files or bytes (JPEG, PNG, JPEG 2000)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, features
from .errors import ImageError


def jp2_supported() -> bool:
    return bool(features.check("jpg_2000"))


def to_rgb(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        return np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def load_image(source: str | Path | bytes) -> np.ndarray:
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        img.load()
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except Exception as exc:
        hint = "" if jp2_supported() else " (this Pillow has no JPEG 2000 support)"
        raise ImageError(f"cannot read the image: {exc}{hint}") from None
    return to_rgb(img)
