"""The support matrix (River class × format), generated from the registries, never by hand."""

from __future__ import annotations

from .converters import registry
from .converters.registry import EMITTERS, EXTRACTORS, FORMATS, REFUSALS, qualname


def support(river_type: type, fmt: str) -> tuple[bool, str]:
    """(supported, reason): supported when every IR node the extractor produces has an emitter."""
    ex = EXTRACTORS[river_type]
    if ex.refusal:
        return False, ex.refusal
    if not ex.produces:
        return False, "extractor declares no IR nodes"
    emitted = registry.emitted_as(fmt)  # ort: what onnx exports
    refused = sorted({REFUSALS[(emitted, t)] for t in ex.produces if (emitted, t) in REFUSALS})
    if refused:
        return False, "; ".join(refused)
    missing = [t.__name__ for t in ex.produces if (emitted, t) not in EMITTERS]
    if missing:
        return False, f"no {fmt} emitter for {', '.join(missing)}"
    return True, ""


def matrix_formats() -> list[str]:
    """The formats the matrix and the census show: a format written via another (ort via
    onnx) exports exactly what that one does, so it has no column of its own."""
    return sorted(name for name, fmt in FORMATS.items() if not fmt.via)


def support_matrix_markdown() -> str:
    formats = matrix_formats()
    lines = ["| River model | " + " | ".join(formats) + " |",
             "|---|" + "---|" * len(formats)]
    for t in sorted(EXTRACTORS, key=qualname):
        cells = []
        for f in formats:
            ok, reason = support(t, f)
            cells.append("✅" if ok else f"✗ {reason}")
        lines.append(f"| `{qualname(t)}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ensure_registered() -> None:
    from . import api  # noqa: F401  (imports every converter and format)

    assert registry.FORMATS


def write_readme(path: str = "README.md") -> None:
    """Replace the table between the support-matrix markers in the README."""
    import re
    from pathlib import Path

    readme = Path(path)
    text = readme.read_text()
    table = support_matrix_markdown()
    new = re.sub(r"(<!-- support-matrix:start -->\n).*?(<!-- support-matrix:end -->)",
                 lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
    readme.write_text(new)


if __name__ == "__main__":
    import sys

    _ensure_registered()
    if "--census" in sys.argv:
        from .census import main

        main(sys.argv[1:])
    elif "--write-readme" in sys.argv:
        write_readme()
    else:
        print(support_matrix_markdown())
