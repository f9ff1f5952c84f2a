"""The parity report: one artifact in one runtime against the River model, for people and CI."""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

# the per-row difference histogram's bins: exactly 0, below 1e-16, one a decade from 1e-16 to
# 1e-1 ("1e-16" is [1e-16, 1e-15)), and 1 or more (infinite included); harness.diff_histogram
DIFF_DECADES = tuple(10.0 ** e for e in range(-16, 1))
DIFF_BIN_LABELS = ("0", "<1e-16", *(f"1e{e}" for e in range(-16, 0)), "≥1")


@dataclass(frozen=True)
class WorstRow:
    index: int
    tag: str
    row: dict
    reference: list
    artifact: list
    diff: float
    label_ok: bool
    # the artifact's input encoder refused this row River answered (its message): not compared,
    # no artifact answer (`artifact` is empty, `diff` NaN); counts against `passed`
    refused: str = ""


@dataclass(frozen=True)
class ParityReport:
    """Did the artifact predict what River predicts? `passed` answers; the rest says how close."""

    format: str
    artifact: str
    runtime: str  # "onnxruntime 1.32.0"
    model: str
    ir_hash: str
    task: str
    n_rows: int
    label_agreement: float | None  # 0..1 for classifiers, None for regressors
    max_abs_diff: float
    max_scaled_diff: float  # max |a - e| / max(1, |e|): what the tolerance is compared with
    tolerance: float
    precision: str
    passed: bool
    n_skipped: int = 0  # rows the original model cannot predict (it raised): not compared
    rows_by_tag: dict = field(default_factory=dict)
    worst_rows: tuple[WorstRow, ...] = ()
    skipped_examples: tuple[str, ...] = ()
    seconds: float = 0.0
    artifact_ir_hash: str = ""  # differs from ir_hash when the model learned since the export
    n_beyond_float32: int = 0  # rows whose River value float32 cannot hold (artifact: ±inf)
    diff_counts: tuple[int, ...] = ()  # rows per DIFF_BIN_LABELS bin (largest |diff| of a row)
    n_refused: int = 0  # rows River answers that the artifact's input contract refuses: FAIL

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["worst_rows"] = [_json_safe(asdict(w)) for w in self.worst_rows]
        return _json_safe(data)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        labels = "" if self.label_agreement is None else f", labels {self.label_agreement:.2%}"
        skipped = f", {self.n_skipped} rows the original model rejects" if self.n_skipped else ""
        if self.n_refused:
            skipped += (f", {self.n_refused} rows River answers that the artifact's input "
                        "contract refuses (not compared)")
        if self.n_beyond_float32:
            skipped += (f", {self.n_beyond_float32} rows beyond float32 range (River's value "
                        "overflows float32; the artifact gives ±inf)")
        if self.artifact_ir_hash and self.artifact_ir_hash != self.ir_hash:
            skipped += (f"; the artifact holds another model state ({self.artifact_ir_hash[:12]}),"
                        " re-export it from this model")
        scaled = ("" if self.max_scaled_diff == self.max_abs_diff
                  else f", {self.max_scaled_diff:.3g} relative")
        return (f"{verdict} {self.format} in {self.runtime}: {self.n_rows} rows{labels}, "
                f"max abs diff {self.max_abs_diff:.3g}{scaled} (tolerance {self.tolerance:g}, "
                f"{self.precision}){skipped}")

    def to_text(self) -> str:
        lines = [self.summary(), f"  model {self.model}  ir {self.ir_hash[:12]}  artifact {self.artifact}"]
        lines.append("  rows: " + ", ".join(f"{k} {v}" for k, v in sorted(self.rows_by_tag.items())))
        for w in self.worst_rows[:3]:
            lines.append(f"  worst #{w.index} ({w.tag}): {_outcome(w)}")
        return "\n".join(lines)

    def to_junit_xml(self) -> str:
        """One test suite, one test case per check, so CI shows which check failed."""
        checks = self._checks()
        suite = ET.Element("testsuite", name=f"estuary.parity.{self.format}",
                           tests=str(len(checks)), failures=str(sum(not ok for _, ok, _ in checks)),
                           time=f"{self.seconds:.3f}")
        props = ET.SubElement(suite, "properties")
        for k in ("runtime", "model", "ir_hash", "artifact", "precision"):
            ET.SubElement(props, "property", name=k, value=str(getattr(self, k)))
        for name, ok, message in checks:
            case = ET.SubElement(suite, "testcase", classname=f"parity.{self.format}", name=name)
            if not ok:
                ET.SubElement(case, "failure", message=message).text = message
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)

    def _checks(self) -> list[tuple[str, bool, str]]:
        checks = [("max_diff", self.max_scaled_diff <= self.tolerance,
                   f"max diff {self.max_scaled_diff:.3g} (relative above 1) > tolerance "
                   f"{self.tolerance:g}")]
        if self.label_agreement is not None:
            checks.append(("labels", self.label_agreement == 1.0,
                           f"label agreement {self.label_agreement:.4%} < 100%"))
        if self.n_refused:
            first = next((w.refused for w in self.worst_rows if w.refused), "")
            checks.append(("input_contract", False, f"{self.n_refused} rows River answers are "
                           f"refused by the artifact's input contract; first: {first}"))
        checks.append(("verdict", self.passed, self.summary()))
        return checks

    def to_html(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td>{w.index}</td><td>{esc(w.tag)}</td>"
            f"<td>{esc(_outcome(w)) if w.refused else f'{w.diff:.3g}'}</td><td>{w.label_ok}</td>"
            f"<td><code>{esc(json.dumps(_json_safe(w.row)))[:300]}</code></td></tr>"
            for w in self.worst_rows)
        colour = "#1a7f37" if self.passed else "#cf222e"
        facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in [
            ("runtime", self.runtime), ("model", self.model), ("IR hash", self.ir_hash),
            ("rows", self.n_rows), ("label agreement", self.label_agreement),
            ("max abs diff", f"{self.max_abs_diff:.3g}"),
            ("max diff, relative above 1", f"{self.max_scaled_diff:.3g}"), ("tolerance", self.tolerance),
            ("precision", self.precision), ("rows the original model rejects", self.n_skipped),
            ("rows the artifact's input contract refuses", self.n_refused),
            ("rows by kind", self.rows_by_tag)])
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>estuary parity: "
                f"{esc(self.format)}</title><style>body{{font-family:sans-serif;margin:2em}}"
                f"td,th{{padding:.2em .6em;text-align:left}}</style></head><body>"
                f"<h1 style='color:{colour}'>{esc(self.summary())}</h1><table>{facts}</table>"
                f"{self._histogram_svg()}"
                f"<h2>Worst rows</h2>{self._worst_rows_svg()}"
                f"<table><tr><th>#</th><th>kind</th><th>diff</th>"
                f"<th>label ok</th><th>row</th></tr>{rows}</table></body></html>")

    def _histogram_svg(self) -> str:
        """Rows by their largest |diff| from River, one bar a decade (DIFF_BIN_LABELS), the bar
        holding the tolerance outlined: how far from River the whole probe set is, not only
        the worst rows."""
        if not self.diff_counts:
            return ""
        top, bar, height = max(self.diff_counts) or 1, 30, 120
        tol_bin = 2 + sum(1 for edge in DIFF_DECADES[1:] if edge <= self.tolerance)
        parts = []
        for i, (label, n) in enumerate(zip(DIFF_BIN_LABELS, self.diff_counts)):
            h, x = height * n / top, 10 + i * bar
            colour = "#1a7f37" if i < tol_bin or (i == tol_bin and n == 0) else "#9a6700"
            stroke = " stroke='#333' stroke-dasharray='3 2'" if i == tol_bin else ""
            parts.append(f"<rect x='{x}' y='{20 + height - h:.1f}' width='{bar - 4}' "
                         f"height='{h:.1f}' fill='{colour}'{stroke}><title>{html.escape(label)}: "
                         f"{n} rows</title></rect><text x='{x + (bar - 4) / 2}' y='{height + 34}' "
                         f"font-size='9' text-anchor='middle'>{html.escape(label)}</text>"
                         f"<text x='{x + (bar - 4) / 2}' y='{16 + height - h:.1f}' font-size='9' "
                         f"text-anchor='middle'>{n or ''}</text>")
        width = 20 + len(self.diff_counts) * bar
        return (f"<h2>Rows by their largest |diff| from River</h2><svg "
                f"xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 44}' "
                f"role='img' aria-label='rows by difference from River, one bar a decade'>"
                f"{''.join(parts)}</svg><p>outlined: the decade holding the tolerance "
                f"({self.tolerance:g}); bars right of it are rows beyond it unless scaled by a "
                "large reference value</p>")

    def _worst_rows_svg(self) -> str:
        """The worst rows' differences as bars on a log scale (1e-17 … 1), the tolerance as a
        line: a row under the line is within tolerance, a red bar failed (label or diff)."""
        if not self.worst_rows:
            return ""
        width, bar, left = 420, 18, 130

        def x(diff: float) -> float:
            if diff == 0:
                return 0.0
            if not math.isfinite(diff):
                return float(width)
            return max(0.0, min(1.0, (math.log10(diff) + 17) / 17)) * width

        parts = []
        for i, w in enumerate(self.worst_rows):
            y = 20 + i * (bar + 6)
            scale = max([1.0] + [abs(v) for v in w.reference
                                 if isinstance(v, (int, float)) and math.isfinite(v)])
            bad = not w.label_ok or w.diff > self.tolerance * scale
            colour = "#cf222e" if bad else "#1a7f37"
            parts.append(f"<text x='0' y='{y + 13}' font-size='12'>#{w.index} "
                         f"{html.escape(w.tag)[:14]}</text><rect x='{left}' y='{y}' "
                         f"width='{x(w.diff):.1f}' height='{bar}' fill='{colour}'><title>diff "
                         f"{w.diff:.3g}</title></rect>")
        tol = left + x(self.tolerance)
        height = 30 + len(self.worst_rows) * (bar + 6)
        return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 10}' "
                f"height='{height}' role='img' aria-label='worst rows: differences, log scale'>"
                f"{''.join(parts)}<line x1='{tol:.1f}' x2='{tol:.1f}' y1='10' y2='{height - 4}' "
                f"stroke='#333' stroke-dasharray='4 3'/><text x='{tol + 4:.1f}' y='12' "
                f"font-size='11'>tolerance {self.tolerance:g}</text></svg>")


def _outcome(w: WorstRow) -> str:
    """A worst row's outcome in words: its difference, or why the artifact never read it."""
    if w.refused:
        return f"refused by the artifact's input contract: {w.refused}"
    return f"diff {w.diff:.3g} label_ok={w.label_ok}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return str(value)
