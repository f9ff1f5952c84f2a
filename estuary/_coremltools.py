"""coremltools' protobuf classes, imported without its off-macOS noise.

Off macOS, importing coremltools logs a "Failed to load _ML...Proxy" warning for each native
class it cannot find. estuary only builds specs from the protobuf classes, so those are noise.
"""

import logging

_log = logging.getLogger("coremltools")
_level = _log.level
_log.setLevel(logging.ERROR)
try:
    from coremltools.proto import FeatureTypes_pb2, Model_pb2, NeuralNetwork_pb2
finally:
    _log.setLevel(_level)

__all__ = ["FeatureTypes_pb2", "Model_pb2", "NeuralNetwork_pb2"]
