"""IR Snapshot → ONNX Runtime's mobile format, `.ort` (the FlatBuffers file ONNX Runtime Mobile
loads on Android and iOS, and any onnxruntime loads too).

The writer writes estuary's ONNX model (estuary/converters/onnx) and converts it with
onnxruntime's own tool, `onnxruntime.tools.convert_onnx_models_to_ort` (optimisation style
"Fixed", the tool's default level). The tool's reduced-operator config, which an app's minimal
ONNX Runtime build takes (`--include_ops_by_config`), is written beside the artifact as
`<stem>.required_operators.config`. The estuary metadata (schema, classes, golden vectors,
integrity digest) is carried over by the conversion in the model's metadata_props, so the
artifact contract is the ONNX one: input `input` double [N, F], outputs `label` and
`probabilities`, or `value`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

from .. import ir
from ..errors import ArtifactError
from .onnx import DEFAULT_ML_OPSET, write_onnx
from .onnx.graph import DEFAULT_OPSET
from .registry import register_format

CONFIG_SUFFIX = ".required_operators.config"
CONFIG_SOURCE = "# - the .ort model this file ships beside (estuary export)"


def config_path(path: str | Path) -> Path:
    """Where the reduced-operator config of the `.ort` artifact at `path` is written (the
    format's companion file).

    >>> config_path("v/model.ort")
    PosixPath('v/model.required_operators.config')
    """
    return FORMAT.companion_paths(path)[0]


def _converter():
    """onnxruntime's converter, imported without the side effect its logger module has: it
    calls `logging.basicConfig()`, which would give the application's root logger a handler."""
    root = logging.getLogger()
    before = list(root.handlers)
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)
    return convert_onnx_models_to_ort, OptimizationStyle


def write_ort(snapshot: ir.Snapshot, path: str | Path, opset: int = DEFAULT_OPSET,
              ml_opset: int = DEFAULT_ML_OPSET) -> Path:
    """Write `snapshot` to `path` as `.ort`, and its operator config beside it.

    >>> write_ort(take_snapshot(model, rows), "model.ort")
    """
    path = Path(path)
    convert, style = _converter()
    with tempfile.TemporaryDirectory(prefix="estuary-ort-") as tmp:
        source = write_onnx(snapshot, Path(tmp) / "model.onnx", opset, ml_opset)
        out = Path(tmp) / "out"
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the tool prints its progress
                convert(source, output_dir=out, optimization_styles=[style.Fixed])
        except Exception as e:  # the tool raises onnxruntime's untyped errors
            raise ArtifactError(f"onnxruntime could not convert the ONNX model to .ort "
                                f"({type(e).__name__}: {str(e)[:300]})") from e
        # one .ort and one config; their names carry the level when
        # $ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL is set (model.basic.ort)
        data = next(out.glob("*.ort")).read_bytes()
        # the tool names the temporary file it converted (and export writes a staged name):
        # say which file instead, so the config depends only on the model
        lines = next(out.glob("*.config")).read_text(encoding="utf-8").splitlines()
        config = [CONFIG_SOURCE if ln.startswith("# - ") else ln for ln in lines]
    path.write_bytes(data)
    config_path(path).write_text("\n".join(config) + "\n", encoding="utf-8")
    return path


FORMAT = register_format(
    "ort", suffixes=(".ort",), writer=write_ort,
    runtimes=("onnxruntime-ort", "onnxruntime-node-ort"), precision="float64", extra="core",
    options={"opset": DEFAULT_OPSET, "ml_opset": DEFAULT_ML_OPSET},
    describe="ONNX Runtime Mobile .ort (Android, iOS; onnxruntime, onnxruntime-node)",
    via="onnx", by_default=False, companions=(CONFIG_SUFFIX,))
