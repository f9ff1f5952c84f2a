"""IR Snapshot → PMML 4.4, written from the IR alone (no scikit-learn, no Java at export).

Artifact contract: one continuous double DataField per schema column (categorical features are
their one-hot columns), missing = missing value. Every transform and the estimator's arithmetic
are DerivedFields in the TransformationDictionary, in River's operation order, so JPMML-Evaluator
reproduces River in double precision. The model is a RegressionModel: regressors output
`value` (predictedValue); classifiers output `label` (predictedValue, the class as a string) and
`probability(<class>)` per class in the IR's class order. The Header's Extension `estuary`
holds the artifact metadata JSON, and a ModelVerification block holds the golden vectors.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.artifact import METADATA_KEY, ArtifactMetadata
from ...ir.tasks import TASKS, Task
from ..registry import emit, register_format
from . import (  # noqa: F401  (registration)
    anomaly,
    cluster,
    elementwise,
    ensembles,
    features,
    forecast,
    linear,
    lookup,
    multioutput,
    naive_bayes,
    neighbors,
    probit,
    projection,
    reco,
    trees,
    votes,
)
from .document import (
    NAMESPACE,
    Document,
    Head,
    apply,
    const,
    element,
    if_else,
    num,
    ref,
    regression_table,
)
from .transforms import Context, emit_transform

PMML_VERSION = "4.4"
TOLERANCE = 1e-9  # ModelVerification: relative precision and zero threshold, as the contract


def class_labels(classes: tuple) -> tuple[str, ...]:
    """PMML target categories: each class as a string; they must stay distinct."""
    labels = tuple(str(c) for c in classes)
    if len(set(labels)) != len(labels):
        raise UnsupportedModelError(
            "classes", [], reason=f"classes {list(classes)!r} collide once written as strings; "
            "PMML categories are strings: relabel the classes")
    return labels


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def field_names(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The input columns as PMML DataField names: JPMML refuses an empty name, and XML has no
    way to write control characters, so such a feature key is refused with its name."""
    for c in columns:
        if c == "" or _XML_ILLEGAL.search(c):
            raise UnsupportedModelError(
                f"the feature key {c!r}", [], reason="PMML field names cannot be empty or hold "
                "control characters: rename the key before learning, or export to ONNX")
    return columns


def to_pmml(snapshot: ir.Snapshot) -> Element:
    """The PMML document of a snapshot, as an element tree."""
    model = snapshot.model
    columns = field_names(model.schema.columns)
    classifier = model.task == "classification"
    doc = Document(columns, class_labels(model.classes) if classifier else ())
    fields = emit_transform(model.transform, Context(doc, {c: c for c in columns}))
    fields = {c: fields[c] for c in model.estimator.columns}
    target = doc.name("target")
    outputs = _output_names(doc, classifier, model)
    head: Head = emit("pmml", model.estimator, Context(doc, fields))
    distances = getattr(head, "distances", None)  # a clusterer's (pmml/cluster.py)
    indexed = classifier or distances is not None  # outputs[0] is the label / cluster index
    meta = ArtifactMetadata.from_snapshot(snapshot)

    root = element("PMML", {"xmlns": NAMESPACE, "version": PMML_VERSION})
    header = SubElement(root, "Header", {"description": f"{model.source} exported by estuary"})
    SubElement(header, "Extension", {"name": METADATA_KEY, "value": meta.to_json()})
    SubElement(header, "Extension", {"name": "estuary.ir_hash", "value": meta.ir_hash})
    SubElement(header, "Application", {"name": "estuary",
                                       "version": snapshot.provenance.estuary_version})
    dictionary = SubElement(root, "DataDictionary", {"numberOfFields": str(len(columns) + 1)})
    for c in columns:
        SubElement(dictionary, "DataField", {"name": c, "optype": "continuous",
                                             "dataType": "double"})
    if classifier:
        t = SubElement(dictionary, "DataField", {"name": target, "optype": "categorical",
                                                 "dataType": "string"})
        for label in doc.labels:
            SubElement(t, "Value", {"value": label})
    else:
        SubElement(dictionary, "DataField", {"name": target, "optype": "continuous",
                                             "dataType": "double"})
    SubElement(root, "TransformationDictionary").extend(doc.derived)

    reg = SubElement(root, "RegressionModel", {
        "modelName": model.source or "estuary",
        "functionName": "classification" if classifier else "regression",
        "normalizationMethod": head.normalization,
        "isScorable": "true",
    })
    schema = SubElement(reg, "MiningSchema")
    for c in columns:
        SubElement(schema, "MiningField", {"name": c, "usageType": "active",
                                           "missingValueTreatment": "asIs"})
    SubElement(schema, "MiningField", {"name": target, "usageType": "target"})
    output = SubElement(reg, "Output")
    if classifier:
        SubElement(output, "OutputField", {"name": outputs[0], "optype": "categorical",
                                           "dataType": "string", "feature": "predictedValue"})
        for name, label in zip(outputs[1:], doc.labels):
            SubElement(output, "OutputField", {"name": name, "optype": "continuous",
                                               "dataType": "double", "feature": "probability",
                                               "value": label})
    elif distances is not None:
        _cluster_outputs(output, outputs, distances, head.nearest)
    elif TASKS[model.task].per_target:
        outputs = _target_outputs(output, doc, TASKS[model.task], model.classes, head.targets)
    else:
        SubElement(output, "OutputField", {"name": outputs[0], "optype": "continuous",
                                           "dataType": "double", "feature": "predictedValue"})
        for name, field in getattr(head, "outputs", {}).items():  # a filter's is_anomaly (0/1)
            SubElement(output, "OutputField", {"name": doc.name(name), "optype": "continuous",
                                               "dataType": "double",
                                               "feature": "transformedValue"}).append(ref(field))
    reg.extend(head.tables or [regression_table(0.0)])  # a clusterer predicts nothing itself
    if snapshot.golden_inputs:
        reg.append(_verification(snapshot, columns, outputs[1:] if indexed else outputs))
    return root


def _cluster_outputs(output: Element, names: tuple[str, ...], distances: list[str],
                     nearest: str) -> None:
    """`cluster`: the index of the first distance equal to their minimum `nearest` (River's
    `min` keeps the first of equal distances), then each distance, in the model's class order."""
    index: Element = const(float(len(distances) - 1))
    for k in range(len(distances) - 2, -1, -1):
        index = if_else(apply("lessOrEqual", ref(distances[k]), ref(nearest)),
                        const(float(k)), index)
    SubElement(output, "OutputField", {"name": names[0], "optype": "continuous",
                                       "dataType": "double", "feature": "transformedValue"}
               ).append(index)
    for name, field in zip(names[1:], distances, strict=True):
        SubElement(output, "OutputField", {"name": name, "optype": "continuous",
                                           "dataType": "double", "feature": "transformedValue"}
                   ).append(ref(field))


def _target_outputs(output: Element, doc: Document, spec: Task, targets: tuple,
                    fields: list[str]) -> tuple[str, ...]:
    """A per-target task's OutputFields: `label.<t>` (1 where P(True) > P(False): the first
    maximum, False on a tie, as River's `max`), then `probability.<t>(False|True)` or
    `value.<t>`; returns the probability / value names, the golden rows' order."""
    width, names = spec.target_width, []
    for k, t in enumerate(targets):
        own = fields[k * width:(k + 1) * width]
        if spec.kind == "probabilities":
            SubElement(output, "OutputField", {
                "name": doc.name(f"label.{t}"), "optype": "continuous", "dataType": "double",
                "feature": "transformedValue"}).append(if_else(
                    apply("greaterThan", ref(own[1]), ref(own[0])), const(1.0), const(0.0)))
            parts = [(f"probability.{t}(False)", own[0]), (f"probability.{t}(True)", own[1])]
        else:
            parts = [(f"value.{t}", own[0])]
        for name, field in parts:
            names.append(doc.name(name))
            SubElement(output, "OutputField", {"name": names[-1], "optype": "continuous",
                                               "dataType": "double",
                                               "feature": "transformedValue"}).append(ref(field))
    return tuple(names)


def _output_names(doc: Document, classifier: bool, model: ir.Model) -> tuple[str, ...]:
    spec = TASKS[model.task]
    if spec.kind == "distances":  # cluster, then distance(<id>) per centre
        return (doc.name(spec.index_output),
                *[doc.name(f"distance({c})") for c in model.classes])
    if not classifier:  # value, score or forecast (`ir.tasks`)
        return (doc.name(spec.output),)
    return (doc.name("label"), *[doc.name(f"probability({label})") for label in doc.labels])


def _verification(snapshot: ir.Snapshot, columns: tuple[str, ...],
                  outputs: tuple[str, ...]) -> Element:
    """The golden vectors: JPMML-Evaluator re-runs them on load (`Evaluator.verify`)."""
    block = element("ModelVerification", {"recordCount": str(len(snapshot.golden_inputs)),
                                          "fieldCount": str(len(columns) + len(outputs))})
    vfields = SubElement(block, "VerificationFields")
    for j, c in enumerate(columns):
        SubElement(vfields, "VerificationField", {"field": c, "column": f"x{j}"})
    for k, name in enumerate(outputs):
        SubElement(vfields, "VerificationField", {"field": name, "column": f"y{k}",
                                                  "precision": num(TOLERANCE),
                                                  "zeroThreshold": num(TOLERANCE)})
    table = SubElement(block, "InlineTable")
    for row_in, row_out in zip(snapshot.golden_inputs, snapshot.golden_outputs, strict=True):
        row = SubElement(table, "row")
        for j, v in enumerate(row_in):
            if v is not None:  # an absent cell is a missing value
                SubElement(row, f"x{j}").text = num(v)
        for k, v in enumerate(row_out):
            SubElement(row, f"y{k}").text = num(v)
    return block


def write_pmml(snapshot: ir.Snapshot, path: str | Path) -> Path:
    """Write `snapshot` to `path` as PMML 4.4; the bytes depend only on the snapshot.

    >>> write_pmml(take_snapshot(model, rows), "model.pmml")
    """
    root = to_pmml(snapshot)
    indent(root, space=" ")
    path = Path(path)
    path.write_bytes(tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n")
    return path


register_format("pmml", suffixes=(".pmml",), writer=write_pmml, runtimes=("jpmml-evaluator",),
                precision="float64", extra="pmml", describe="PMML 4.4 (JPMML-Evaluator)")
