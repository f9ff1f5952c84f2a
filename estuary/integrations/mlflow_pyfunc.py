"""The MLflow pyfunc model estuary registers, as models-from-code: MLflow runs this file when it
loads the model (an onnxruntime session cannot be pickled, so nothing is).

It predicts with the version's ONNX artifact (the `model` artifact MLflow copied), loaded by
`estuary.load`: sha256 integrity and golden vectors are checked on load, in onnxruntime. Input:
a pandas DataFrame with the schema's raw columns (River's keys; a missing column or NaN is a
missing value). Output: a DataFrame with `label` and one `probabilities[<class>]` column per
class for a classifier, `value` for a regressor (other tasks: each output, 2-D ones by column).

>>> mlflow.pyfunc.load_model("models:/churn@champion").predict(df)
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel

ARTIFACT = "model"  # the key of the ONNX file in the logged model's artifacts


def outputs_frame(model: Any, out: dict) -> Any:
    """A LoadedModel's outputs as a DataFrame: labels as River's classes, a column a class."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in sorted(out, key=lambda n: n != "label"):  # the label first
        values = out[name]
        if name == "label":
            columns["label"] = [model.classes[i] for i in values]
        elif values.ndim == 2:
            heads = model.classes if name == "probabilities" else range(values.shape[1])
            for j, head in enumerate(heads):
                columns[f"{name}[{head}]"] = values[:, j]
        else:
            columns[name] = values
    return pd.DataFrame(columns)


class EstuaryOnnxModel(PythonModel):
    """Predicts with the ONNX artifact of one verified store version."""

    def load_context(self, context: Any) -> None:
        from estuary import load

        self.model = load(context.artifacts[ARTIFACT])

    # no type hints here: MLflow would read them as the model's signature (and warn)
    def predict(self, context, model_input, params=None):
        """The outputs of the DataFrame's rows (see the module docstring)."""
        return outputs_frame(self.model, self.model.run(self.model.encoder.encode_many(model_input)))


mlflow.models.set_model(EstuaryOnnxModel())
