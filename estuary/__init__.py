"""estuary: ship online River models anywhere, with proof that they predict the same.

>>> import estuary
>>> estuary.export(model, "model.onnx", sample=rows)
>>> estuary.verify(model, "model.onnx", rows).passed
>>> estuary.load("model.onnx").predict_proba_one(x)
"""

__version__ = "0.1.0"

from .api import ExportedArtifact, export, load, verify, write_snapshot  # noqa: E402
from .errors import (  # noqa: E402
    ArtifactError,
    EmptyModelError,
    EstuaryError,
    GoldenCheckError,
    IntegrityError,
    InvalidInputError,
    InvalidOptionError,
    NoGoldenVectorsError,
    NotAModelError,
    OutOfRangeError,
    RegistrationError,
    SignatureError,
    SigningKeyError,
    UnknownFormatError,
    UnsupportedModelError,
    WorkerEnvironmentError,
    WrongTaskError,
)

__all__ = [
    "ArtifactError", "EmptyModelError", "EstuaryError", "ExportedArtifact", "GoldenCheckError",
    "IntegrityError", "InvalidInputError", "InvalidOptionError", "NoGoldenVectorsError",
    "NotAModelError", "OutOfRangeError", "RegistrationError", "SignatureError", "SigningKeyError",
    "UnknownFormatError", "UnsupportedModelError", "WorkerEnvironmentError",
    "WrongTaskError",
    "__version__", "export", "load", "verify", "write_snapshot",
]
