"""Column batches through onnxruntime on per-thread buffers bound to the session.

`LoadedModel.predict_proba_many` on a DataFrame encodes into a fresh matrix, and `run` has
onnxruntime allocate its outputs and copy them into new numpy arrays, which the contract check
then walks. A batch job scores chunk after chunk of the same size, so here each thread keeps,
per batch size (the last `SIZES`, up to `MAX_VALUES` numbers each), an input matrix and output
arrays bound once to the session (`IOBinding` over `OrtValue`s sharing their memory, as the
one-row path in `onnx_one` does): the columnar encoder writes straight into the bound input,
`run_with_iobinding` writes straight into the bound outputs, and the caller gets a copy of what
it asked for. Output shapes and dtypes are held by the binding (onnxruntime refuses a graph
whose output does not fit them); the label index is checked in range as the batch path checks it.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

MAX_VALUES = 1 << 18  # numbers (inputs and outputs) a bound batch holds: 2 MB of float64
SIZES = 2  # batch sizes bound per thread (a job's chunk size, and its last, shorter chunk)


class BoundMany:
    """One thread's input matrix and outputs for batches of `n` rows, bound to the session."""

    def __init__(self, session: ort.InferenceSession, n: int, n_columns: int,
                 shapes: dict[str, tuple[tuple[int, ...], type]]):
        self.session = session
        self.input = np.empty((n, n_columns))
        self.outputs = {name: np.empty((n, *shape[1:]), dtype)
                        for name, (shape, dtype) in shapes.items()}
        self.binding = session.io_binding()
        self.binding.bind_ortvalue_input("input", ort.OrtValue.ortvalue_from_numpy(self.input))
        for name, array in self.outputs.items():
            self.binding.bind_ortvalue_output(name, ort.OrtValue.ortvalue_from_numpy(array))
        self.run = session._sess.run_with_iobinding  # the C++ call, without the Python layer
        self.native = self.binding._iobinding
        label = self.outputs.get("label")  # as uint64, a negative index is >= 2**63
        self.labels = None if label is None else label.view(np.uint64)
        self.busy = False  # set while a call uses the buffers (a re-entrant call allocates)


def width(n_columns: int, shapes: dict[str, tuple[tuple[int, ...], type]] | None) -> int:
    """The numbers a bound batch holds per row (inputs and outputs); 0 when nothing is bound
    (outputs that are not plain tensors)."""
    if shapes is None:
        return 0
    return n_columns + sum(int(np.prod(shape[1:])) for shape, _ in shapes.values())


__all__ = ["BoundMany", "MAX_VALUES", "SIZES", "width"]
