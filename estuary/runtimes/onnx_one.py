"""One row through onnxruntime at little more than ORT's own per-call cost.

`LoadedModel.predict_proba_one` goes through the batch path: a list, a fresh NaN matrix, the
input dict, output lists, the output contract check in numpy reductions: ~4× the raw
`session.run` on one row. Here each thread keeps one input row and its outputs pre-bound to the
session (`IOBinding` over `OrtValue`s that share memory with numpy arrays), and a row encoder
specialised for the schema (`estuary.rows_one`, falling back to `RowEncoder` for any value
off its fast path) writes straight into the bound input, so a call
is: encode, `run_with_iobinding`, read the bound outputs. The outputs are checked against the
artifact contract as the batch path checks them (shape by the binding, label index in range).
Tasks other than classification and regression, and artifacts whose outputs are not the plain
tensors this binds, take the batch path. Tables of columns (`predict_proba_many`, `predict_many`)
run on per-thread bound batches the same way (`onnx_many`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnxruntime as ort

from ..errors import ArtifactError, EstuaryError
from ..rows import RowEncoder, is_columnar
from ..rows_one import compile_row_encoder
from .base import LoadedModel
from .onnx_many import MAX_VALUES, SIZES, BoundMany, width

_DTYPES = {"tensor(double)": np.float64, "tensor(int64)": np.int64}


class _Bound(BoundMany):
    """One thread's input row and outputs, bound once to the session (a bound batch of one
    row, NaN until encoded), with the row encoder compiled for that row."""

    def __init__(self, session: ort.InferenceSession, encoder: RowEncoder,
                 shapes: dict[str, tuple[tuple[int, ...], type]]):
        super().__init__(session, 1, encoder.n_columns, shapes)
        self.row = self.input
        self.row.fill(np.nan)
        self.view = memoryview(self.row.reshape(-1))
        self.encode = compile_row_encoder(encoder, self.row.reshape(-1))


class OnnxModel(LoadedModel):
    """`LoadedModel` over onnxruntime with a pre-bound one-row path."""

    def __init__(self, backend: Any, metadata: Any, path: Any, fmt: str):
        super().__init__(backend, metadata, path, fmt)
        self._shapes = self._bindable()
        self._threads = threading.local()
        self._row_width = width(self.encoder.n_columns, self._shapes)  # numbers per bound row

    def _bindable(self) -> dict[str, tuple[tuple[int, ...], type]] | None:
        """Output name → (shape for one row, dtype), or None when the outputs are not plain
        float64 / int64 tensors of [N] or [N, C] (then the batch path answers)."""
        task = self.metadata.task
        if task == "classification":
            wanted = {"probabilities": ((1, len(self.classes)), np.float64),
                      "label": ((1,), np.int64)}
        elif task == "regression":
            wanted = {"value": ((1,), np.float64)}
        else:
            return None
        session = self.backend.session
        declared = {o.name: o for o in session.get_outputs()}
        for name, (shape, dtype) in wanted.items():
            o = declared.get(name)
            if o is None or _DTYPES.get(o.type) is not dtype or len(o.shape) != len(shape):
                return None
        if set(declared) != set(wanted):
            return None  # extra outputs would need binding too: not worth a special case
        return wanted

    def _bound(self) -> _Bound | None:
        """This thread's binding, or None when the batch path must answer: outputs that are
        not plain tensors, or a backend whose `run` or session was replaced (a wrapper, or a
        test standing in for a broken runtime: its answers go through the contract checks)."""
        backend = self.backend
        if self._shapes is None or "run" in vars(backend):
            return None
        bound = getattr(self._threads, "bound", None)
        if bound is None or bound.session is not backend.session:
            if not isinstance(backend.session, ort.InferenceSession):
                return None
            bound = self._threads.bound = _Bound(backend.session, self.encoder, self._shapes)
        return bound

    def _run_one(self, bound: _Bound, x: Mapping) -> dict[str, np.ndarray]:
        bound.encode(x, bound.view)
        try:
            bound.run(bound.native, None)
        except EstuaryError:
            raise
        except Exception as e:  # a corrupt artifact: wrong output shapes, broken graph
            self.outputs_matrix(bound.row)  # the batch path says what is wrong, typed
            raise ArtifactError(f"{self.path} fails to run one row in {self.runtime} "
                                f"({type(e).__name__}: {str(e)[:200]}); the artifact is "
                                "corrupt: re-export it") from e
        return bound.outputs

    def _bound_many(self, n: int) -> BoundMany | None:
        """This thread's binding for batches of `n` rows (`onnx_many`), or None when the batch
        path must answer (as `_bound`; also a batch too large to keep bound, or one already in
        use by this thread)."""
        backend = self.backend
        if not 0 < n * self._row_width <= MAX_VALUES or "run" in vars(backend):
            return None
        batches = getattr(self._threads, "many", None)
        if batches is None:
            batches = self._threads.many = {}
        bound = batches.get(n)
        if bound is None or bound.session is not backend.session:
            if not isinstance(backend.session, ort.InferenceSession):
                return None
            batches.pop(n, None)
            while len(batches) >= SIZES:  # the oldest size goes
                batches.pop(next(iter(batches)))
            bound = batches[n] = BoundMany(backend.session, n, self.encoder.n_columns,
                                           self._shapes)
        return None if bound.busy else bound

    def _run_many(self, rows: Any, columns: Any) -> dict[str, np.ndarray] | None:
        """The outputs for a table of columns, computed in this thread's bound buffers (valid
        until its next call), or None when the batch path must answer."""
        if not is_columnar(rows):
            return None
        try:
            n = len(rows)
        except TypeError:  # a 0-d array: the batch path says what is wrong
            return None
        bound = self._bound_many(n)
        if bound is None:
            return None
        bound.busy = True
        try:
            X = self.encoder.encode_columns(rows, columns, out=bound.input)
            try:
                bound.run(bound.native, None)
            except Exception:  # outputs that do not fit the binding, a broken graph: the
                return self.run(X.copy())  # batch path answers, or raises ArtifactError
            if self.is_classifier and bound.labels.max() >= len(self.classes):
                self._index(bound.outputs["label"], len(self.classes))  # raises, typed
            return bound.outputs
        finally:
            bound.busy = False

    def predict_proba_many(self, rows: Any, columns: Any = None) -> np.ndarray:
        out = self._run_many(rows, columns) if self.is_classifier else None
        if out is None:
            return super().predict_proba_many(rows, columns)
        return out["probabilities"].copy()  # the bound array is rewritten by the next call

    def predict_many(self, rows: Any, columns: Any = None) -> list[Any]:
        out = self._run_many(rows, columns)
        if out is None:
            return super().predict_many(rows, columns)
        if not self.is_classifier:
            return out["value"].tolist()
        return [self.classes[i] for i in out["label"].tolist()]

    def predict_proba_one(self, x: Mapping) -> dict[Any, float]:
        bound = self._bound() if self.is_classifier else None
        if bound is None:
            return super().predict_proba_one(x)
        out = self._run_one(bound, x)
        self._check_label(int(out["label"][0]))
        return dict(zip(self.classes, out["probabilities"][0].tolist()))

    def predict_one(self, x: Any, *reco: Any) -> Any:
        bound = self._bound()
        if bound is None:  # other tasks (a recommender's user, item) take the batch path
            return super().predict_one(x, *reco)
        out = self._run_one(bound, x)
        if not self.is_classifier:
            return float(out["value"][0])
        label = int(out["label"][0])
        self._check_label(label)
        return self.classes[label]

    def _check_label(self, label: int) -> None:
        if not 0 <= label < len(self.classes):
            raise ArtifactError(f"{self.path}: a label index outside 0..{len(self.classes) - 1}; "
                                "the artifact is corrupt: re-export it")


__all__ = ["OnnxModel"]
