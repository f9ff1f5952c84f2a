"""Import every format module that is installed, so each registers itself.

A format whose library is an optional extra that is not installed is listed in `UNAVAILABLE`
with the install hint; `registry.format_for` repeats it when someone asks for that format.
"""

from __future__ import annotations

import importlib

from . import registry

FORMAT_MODULES = {
    "onnx": ("estuary.converters.onnx", "core"),
    "ort": ("estuary.converters.ort", "core"),  # after onnx: it is written via onnx
    "pmml": ("estuary.converters.pmml", "pmml"),
    "coreml": ("estuary.converters.coreml", "coreml"),
    "tfjs": ("estuary.converters.tfjs", "web"),
}


def load_formats() -> None:
    for name, (module, extra) in FORMAT_MODULES.items():
        if name in registry.FORMATS:
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:  # not written yet in this version of estuary
                continue
            registry.UNAVAILABLE[name] = (f"format {name!r} needs {e.name!r}: "
                                          f"pip install estuary-ml[{extra}]")


load_formats()
