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


USAGE = """usage: python -m estuary.support [--write-readme | --census [--write] [--only=TEXT] [--formats=F,G]]

  (no option)      print the support matrix (River class x format) from the registries
  --write-readme   replace the matrix between README.md's support-matrix markers
  --census         build, export and verify every River class in every format; print the table
  --write          with --census: record it in benchmarks/census.md and README.md
  --only=TEXT      with --census: only classes whose name contains TEXT
  --formats=F,G    with --census: only these formats"""


def usage_error(argv: list[str]) -> str | None:
    """Why `argv` is not a command line this module runs (None when it is): an unknown option
    or a census option without --census would otherwise print the matrix and do nothing."""
    valued = ("--only=", "--formats=")  # census options that carry a value
    for arg in argv:
        if arg not in ("--census", "--write", "--write-readme") and not arg.startswith(valued):
            return f"unknown option {arg!r}"
        if (arg == "--write" or arg.startswith(valued)) and "--census" not in argv:
            return f"{arg.split('=')[0]} goes with --census"
    return None


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    if "-h" in args or "--help" in args:
        print(USAGE)
        raise SystemExit(0)
    problem = usage_error(args)
    if problem:
        print(f"error: {problem}\n{USAGE}", file=sys.stderr)
        raise SystemExit(2)
    _ensure_registered()
    if "--census" in args:
        from .census import main

        main(args)
    elif "--write-readme" in args:
        write_readme()
    else:
        print(support_matrix_markdown())
