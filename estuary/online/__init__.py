"""Online learning with published snapshots: `Learner`, policies, the versioned `Store`.

Sources (`estuary.online.sources`, Redis Streams) and the server (`estuary.online.server`,
Starlette + uvicorn) import their optional libraries only when used (`pip install estuary-ml[online]`).

>>> from estuary.online import EveryN, Learner, Store
>>> with Learner(model, store=Store("models"), policy=EveryN(1000)) as learner:
...     for x, y in stream:
...         learner.learn_one(x, y)
"""

from .catalog import ModelNameError, model_names, named_store
from .checkpoint import (
    Checkpoint,
    CheckpointDir,
    CheckpointError,
    CheckpointIntegrityError,
    CheckpointKeyError,
)
from .freeze import Frozen, freeze
from .learner import Learner
from .manifest import Manifest, ManifestError
from .parity import compare_reference
from .policy import AnyOf, EveryN, EveryT, Manual, OnDrift, Policy
from .publish import PublishResult, publish
from .store import Store, StoreError, Version

__all__ = [
    "AnyOf", "Checkpoint", "CheckpointDir", "CheckpointError", "CheckpointIntegrityError",
    "CheckpointKeyError", "EveryN", "EveryT", "Frozen", "Learner", "Manifest", "ManifestError", "Manual",
    "ModelNameError", "OnDrift", "Policy", "PublishResult", "Store", "StoreError", "Version",
    "compare_reference", "freeze", "model_names", "named_store", "publish",
]
