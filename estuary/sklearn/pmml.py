"""scikit-learn → PMML through sklearn2pmml (AGPL-3.0; runs Java), fitted to estuary's contract.

sklearn2pmml writes the document; estuary then (1) names the inputs after the schema columns,
(2) makes the Output `label` (predicted value) followed by one probability per class in the
metadata's class order, or `value`, (3) for trees that accept NaN, writes scikit-learn's
`missing_go_to_left` as `defaultChild` routes (sklearn2pmml says `nullPrediction`: a missing
value would give no prediction where scikit-learn gives one), (4) replaces a missing one-hot
column with 0 (scikit-learn's OneHotEncoder(handle_unknown="ignore") does), (5) drops the
Timestamp so that the bytes depend only on the model, and (6) embeds the metadata as a Header
Extension.
"""

from __future__ import annotations

import copy
import logging
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ..errors import EstuaryError, UnsupportedModelError
from ..ir.artifact import METADATA_KEY, ArtifactMetadata
from ..runtimes.jpmml import pmml_text
from .metadata import version
from .model import SklearnModel, refuse_unsupported, supported
from .onnx import tree_list

NS = "http://www.dmg.org/PMML-4_4"
MODELS = ("RegressionModel", "TreeModel", "MiningModel", "NaiveBayesModel", "GeneralRegressionModel")
log = logging.getLogger(__name__)


def precision(sk: SklearnModel) -> str:
    return "float64"


def converter_name() -> str:
    return f"sklearn2pmml {version('sklearn2pmml')}"


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def accepts_nan(final: Any) -> bool:
    try:
        return bool(final._get_tags().get("allow_nan", False))
    except AttributeError:  # scikit-learn >= 1.6 moved tags
        return bool(getattr(final.__sklearn_tags__().input_tags, "allow_nan", False))


def _pmml_pipeline(sk: SklearnModel) -> Any:
    import numpy as np
    from sklearn2pmml.pipeline import PMMLPipeline

    # a copy: configure() writes pmml_options_ on the estimator, the user's model stays as is
    flat = copy.deepcopy(sk.flat)
    pipeline = PMMLPipeline(list(flat.steps) if hasattr(flat, "steps") else [("model", flat)])
    pipeline.active_fields = np.asarray(sk.schema.columns)
    pipeline.target_fields = np.asarray(["y"])
    if sk.is_tree:
        pipeline.configure(compact=False)  # one PMML Node per scikit-learn node
    return pipeline


def write(sk: SklearnModel, meta: ArtifactMetadata, path) -> None:
    from sklearn2pmml import sklearn2pmml

    refuse_unsupported(sk, "pmml")
    if type(sk.final).__name__ == "LogisticRegression" and len(sk.classes) > 2 \
            and sk.final.multi_class == "ovr":
        raise UnsupportedModelError(sk.original, supported("pmml"), (
            "to pmml: one-vs-rest LogisticRegression with more than two classes: PMML labels by "
            "probability, which ties at saturation where scikit-learn's argmax of decision "
            "values does not (measured); use the default multinomial"))

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.pmml"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sklearn2pmml(_pmml_pipeline(sk), str(raw))
        except subprocess.CalledProcessError as e:
            raise UnsupportedModelError(sk.original, supported(),
                                        f"sklearn2pmml failed: {e}") from e
        except Exception as e:  # Java missing, or a step sklearn2pmml refuses
            raise EstuaryError(f"sklearn2pmml could not convert {type(sk.original).__name__} "
                               f"({type(e).__name__}: {str(e)[:300]}); it needs Java 11+") from e
        ET.register_namespace("", NS)
        tree = ET.parse(raw)
    root = tree.getroot()
    _fix_field_names(root, sk)
    _fix_header(root, meta)
    model = next((c for c in root if c.tag in {_q(m) for m in MODELS}), None)
    if model is None:
        raise EstuaryError("sklearn2pmml wrote no model element")
    _fix_output(model, sk)
    _fix_onehot_missing(model, sk)
    if sk.is_tree and accepts_nan(sk.final):
        _set_missing_routes(root, sk)
    ET.indent(tree, space=" ")
    tree.write(path, encoding="UTF-8", xml_declaration=True)


def _fix_field_names(root: ET.Element, sk: SklearnModel) -> None:
    """sklearn2pmml ignores `active_fields` behind a ColumnTransformer and names the inputs
    x1..xn (1-based): give them the schema's column names. (Elsewhere it uses the names and
    leaves out the columns the model does not use.)"""
    fields = [f.get("name") for f in root.find(_q("DataDictionary")) if f.get("name") != "y"]
    columns = list(sk.schema.columns)
    if sk.flat is sk.original:
        if not set(fields) <= set(columns):
            raise EstuaryError(f"sklearn2pmml named the inputs {fields[:5]}..., not the schema's")
        return
    rename = {f"x{i + 1}": c for i, c in enumerate(columns)}
    if not set(fields) <= set(rename):
        raise EstuaryError(f"sklearn2pmml named the inputs {fields[:5]}..., not x1..xn")
    for element in root.iter():
        for attr in ("name", "field", "fieldName"):
            value = element.get(attr)
            if value in rename:
                element.set(attr, rename[value])
    dictionary = root.find(_q("DataDictionary"))  # in schema order, the target first
    order = {c: i for i, c in enumerate(["y"] + columns)}
    entries = sorted(dictionary, key=lambda f: order.get(f.get("name"), -1))
    for f in list(dictionary):
        dictionary.remove(f)
    dictionary.extend(entries)


def _fix_header(root: ET.Element, meta: ArtifactMetadata) -> None:
    header = root.find(_q("Header"))
    for stamp in header.findall(_q("Timestamp")):
        header.remove(stamp)
    ext = ET.Element(_q("Extension"), name=METADATA_KEY, value=meta.to_json())
    header.insert(0, ext)


def _fix_output(model: ET.Element, sk: SklearnModel) -> None:
    output = model.find(_q("Output"))
    if output is None:
        output = ET.Element(_q("Output"))
        schema = model.find(_q("MiningSchema"))
        model.insert(list(model).index(schema) + 1, output)
    old = list(output)
    for f in old:
        output.remove(f)
    if sk.task == "regression":
        output.append(ET.Element(_q("OutputField"), name="value", optype="continuous",
                                 dataType="double", feature="predictedValue"))
        return
    output.append(ET.Element(_q("OutputField"), name="label", optype="categorical",
                             dataType="string", feature="predictedValue"))
    holder = output
    if not any(f.get("feature") == "probability" for f in old):
        # a model chain (gradient boosting): the probabilities are its last segment's outputs,
        # which JPMML lists before the top level's: put the label and them, in the metadata's
        # class order, there
        model.remove(output)
        holders = [o for o in model.iter(_q("Output"))
                   if any(f.get("feature") == "probability" for f in o)]
        if len(holders) != 1:
            raise EstuaryError(f"sklearn2pmml wrote {len(holders)} probability outputs")
        holder = holders[0]
        old = list(holder)
        for f in old:
            holder.remove(f)
        holder.extend(output)  # the label
    probability = {f.get("value"): f for f in old if f.get("feature") == "probability"}
    missing = [c for c in sk.classes if pmml_text(c) not in probability]
    if missing:
        raise EstuaryError(f"sklearn2pmml wrote no probability output for classes {missing}")
    holder.extend(f for f in old if f.get("feature") != "probability" and holder is not output)
    holder.extend(probability[pmml_text(c)] for c in sk.classes)


def _fix_onehot_missing(model: ET.Element, sk: SklearnModel) -> None:
    onehot = {c for f in sk.schema.features if f.kind == "categorical" for c in f.columns}
    for field in model.find(_q("MiningSchema")):
        if field.get("name") in onehot:
            field.set("missingValueReplacement", "0")


def _set_missing_routes(root: ET.Element, sk: SklearnModel) -> None:
    trees = tree_list(sk.final)
    models = list(root.iter(_q("TreeModel")))
    if len(models) != len(trees):
        raise EstuaryError(f"sklearn2pmml wrote {len(models)} trees for {len(trees)} fitted")
    columns = sk.schema.columns
    for k, (model, tree) in enumerate(zip(models, trees)):
        model.set("missingValueStrategy", "defaultChild")
        _route(model.find(_q("Node")), tree, 0, columns, f"t{k}")


def _route(node: ET.Element, tree: Any, i: int, columns: tuple, prefix: str) -> None:
    """Walk the PMML node and scikit-learn node `i` together; name nodes and set defaultChild."""
    node.set("id", f"{prefix}n{i}")
    children = node.findall(_q("Node"))
    left, right = int(tree.children_left[i]), int(tree.children_right[i])
    if left < 0:
        if children:
            raise EstuaryError(f"PMML tree {prefix}: node {i} is a leaf in scikit-learn only")
        return
    if len(children) != 2:
        raise EstuaryError(f"PMML tree {prefix}: node {i} has {len(children)} children, not 2")
    predicate = children[0].find(_q("SimplePredicate"))
    if predicate is None or predicate.get("field") != columns[tree.feature[i]] \
            or predicate.get("operator") != "lessOrEqual":
        raise EstuaryError(f"PMML tree {prefix}: node {i} is not scikit-learn's split")
    node.set("defaultChild", f"{prefix}n{left if tree.missing_go_to_left[i] else right}")
    _route(children[0], tree, left, columns, prefix)
    _route(children[1], tree, right, columns, prefix)
