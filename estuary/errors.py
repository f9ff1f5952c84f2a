"""Exceptions users catch. Each message says what went wrong and what to do next."""

from __future__ import annotations


class EstuaryError(Exception):
    """Base class of every error estuary raises on purpose."""


class UnsupportedModelError(EstuaryError, TypeError):
    """A River object (model, step or option) that estuary cannot convert exactly."""

    def __init__(self, obj: object, supported: list[str], reason: str | None = None):
        name = obj if isinstance(obj, str) else f"{type(obj).__module__}.{type(obj).__qualname__}"
        self.model_type = name
        self.supported = sorted(supported)
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        listed = f" Supported: {', '.join(self.supported)}." if self.supported else ""
        super().__init__(
            f"cannot convert {name}{detail}.{listed} Open an issue with the model if you need it."
        )


class NotAModelError(EstuaryError, TypeError):
    """Something given where a River model is expected that cannot learn (no `learn_one`)."""


class WorkerEnvironmentError(EstuaryError, RuntimeError):
    """Spark's Python workers run an interpreter that cannot import what scoring needs."""


class EmptyModelError(EstuaryError, ValueError):
    """The model has learned nothing, so there is nothing to export."""


class RegistrationError(EstuaryError, ValueError):
    """An extractor or emitter was registered twice for the same key."""


class InvalidInputError(EstuaryError, ValueError):
    """A row given to a runtime has a bad value; `field` names the feature."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"feature {field!r}: {message}")


class OutOfRangeError(InvalidInputError):
    """A number no artifact computes with as River does: ±infinity, beyond float64, or, for a
    format that computes in float32 (TF.js, Core ML's float32 models), beyond ±3.4e38. Refused
    before any runtime sees it, so that every format answers such a row the same way."""


class ArtifactError(EstuaryError, ValueError):
    """An artifact file is missing, corrupt, truncated or not what its suffix says."""


class GoldenCheckError(ArtifactError):
    """The golden vectors embedded in an artifact do not reproduce on load."""


class IntegrityError(ArtifactError):
    """The artifact's bytes are not the bytes it was exported with (its embedded SHA-256)."""


class SignatureError(ArtifactError):
    """A trusted key is configured and the artifact (or store manifest) is unsigned, signed by
    another key, or its bytes are not the bytes that were signed: do not serve it."""


class SigningKeyError(EstuaryError, ValueError):
    """A signing or trusted key that cannot be read (missing file, not an Ed25519 key), or the
    `cryptography` library is not installed (`pip install estuary-ml[sign]`)."""


class NoGoldenVectorsError(ArtifactError):
    """The artifact embeds no golden vectors, so nothing proves it computes what was exported;
    `estuary.load(path, require_golden=False)` loads it anyway."""


class WrongTaskError(EstuaryError, TypeError):
    """A call that needs a classifier on a regressor (e.g. `predict_proba_one`)."""


class UnknownFormatError(EstuaryError, ValueError):
    """A format name or file suffix that no emitter is registered for."""


class InvalidOptionError(EstuaryError, ValueError):
    """A format option the format does not have, or a value of the wrong type for it."""


class ColumnClashError(EstuaryError, ValueError):
    """A table given to batch scoring already has a column scoring adds (`prediction`, ...);
    `column` names it. Refused before any row is scored instead of shadowing it."""

    def __init__(self, column: str, message: str):
        self.column = column
        super().__init__(f"column {column!r}: {message}")
