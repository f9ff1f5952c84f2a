"""Artifact fuzzing at scale: seeded mutants of one classifier and one regressor artifact in each
format (ONNX, PMML, Core ML, TF.js), each loaded with `estuary.load` and asked for predictions.
Every mutant must load and predict exactly as the original or raise an `EstuaryError`; the
script prints the totals (target: 0 untyped, 0 silently different, 0 hangs) and writes them to
benchmarks/results_fuzz.json. The generator and the judge are tests/artifact_mutants.py (the
bounded CI run is tests/test_artifact_fuzz.py).

    python benchmarks/fuzz.py --per-artifact 260 --seed 1
    python benchmarks/fuzz.py --per-artifact 260 --signed   # signed, loaded with a trusted key
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import artifact_mutants as am  # noqa: E402

import estuary  # noqa: E402

RESULTS = Path(__file__).with_name("results_fuzz.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-artifact", type=int, default=260,
                        help="mutants per artifact (8 artifacts: 4 formats x 2 models)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--formats", default=",".join(am.FORMATS))
    parser.add_argument("--no-save", action="store_true", help="do not write results_fuzz.json")
    parser.add_argument("--signed", action="store_true",
                        help="sign the originals (Ed25519) and load every mutant with the "
                             "trusted key; results in results_fuzz_signed.json")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]

    workdir = Path(tempfile.mkdtemp(prefix="estuary-fuzz-"))
    start = time.perf_counter()
    trusted = None
    if args.signed:
        from estuary.signing import generate_keypair

        trusted = generate_keypair(workdir / "fuzz.key")[1]
    originals = am.export_originals(workdir, signing_key=workdir / "fuzz.key" if trusted else False)
    total, per_format = am.Tally(), {}
    for (fmt, task), (path, rows) in sorted(originals.items()):
        if fmt not in formats:
            continue
        scratch = workdir / f"scratch-{fmt}-{task}"
        scratch.mkdir()
        tally = am.run(fmt, path, args.per_artifact, args.seed, scratch, rows, trusted_key=trusted)
        print(f"{fmt:8} {task:10} {tally.summary()}", flush=True)
        for failure in tally.failures[:10]:
            print(f"    FAIL {failure}", flush=True)
        total.add(tally)
        per_format.setdefault(fmt, am.Tally()).add(tally)
    print(f"\nall      {total.summary()}")
    print("refusals by error type:", dict(total.refused.most_common()))
    kinds: dict[str, Counter] = {}
    for (kind, outcome), n in total.by_kind.items():
        kinds.setdefault(kind, Counter())[outcome] += n
    for kind in sorted(kinds):
        print(f"  {kind:28} {dict(kinds[kind].most_common())}")
    if not args.no_save:
        where = RESULTS.with_name("results_fuzz_signed.json") if trusted else RESULTS
        where.write_text(json.dumps({
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {platform.system()}, Python "
                       f"{platform.python_version()}",
            "estuary": estuary.__version__, "seed": args.seed, "signed": bool(trusted),
            "per_artifact": args.per_artifact, "seconds": round(time.perf_counter() - start, 1),
            "totals": dict(total.outcomes), "refused": dict(total.refused),
            "per_format": {f: dict(t.outcomes) for f, t in per_format.items()},
            "by_kind": {k: dict(v) for k, v in sorted(kinds.items())},
            "failures": total.failures[:50],
        }, indent=2, sort_keys=True) + "\n")
    bad = sum(total.outcomes[k] for k in ("untyped", "different", "hang"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
