"""Errors of the face layer (daemon/face/): what went wrong with a model, an image or a face in it.

    FaceError
     ├── ModelError        a model file is missing, altered or not loadable (onnx_models.py)
     ├── UnknownModel      a descriptor name the manifest does not list (pipeline.py)
     ├── ImageError        an image file that cannot be read or decoded (images.py)
     └── NotOneFace        the image cannot be described
          ├── NoFace       no face found
          └── SeveralFaces more than one face

The value errors also derive from ValueError: they are about an input, not about this machine.
"""
from __future__ import annotations


class FaceError(Exception):
    """Base of everything the face layer raises."""


class ModelError(FaceError):
    pass


class UnknownModel(FaceError, ValueError):
    pass


class ImageError(FaceError, ValueError):
    pass


class NotOneFace(FaceError, ValueError):
    pass


class NoFace(NotOneFace):
    pass


class SeveralFaces(NotOneFace):
    pass
