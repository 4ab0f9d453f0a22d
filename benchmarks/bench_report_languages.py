"""Benchmark one patient's report in every language against English (no training needed).

The synthetic patient of the report tests (``tests/report/conftest.py``) is built and written
(clinician report HTML + PDF and the family summary HTML + PDF) in each of the seven languages,
``--repeats`` times each, languages interleaved so that machine noise hits all of them alike.
The catalogues are compiled once before timing (the first use of a language compiles its
``.po`` in memory, about 20 ms).

Budget: every language within 10 % of English (median build + write time).

Usage::

    python benchmarks/bench_report_languages.py            # --repeats 15
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_report_languages.json"
sys.path.insert(0, str(REPO_ROOT))
BUDGET_RATIO = 1.10


def main() -> int:
    """Time every language, print the medians and their ratio to English, save the figures."""
    from tests.report.conftest import synthetic_basis, synthetic_inputs

    from sma_response.report.context import build_patient_context
    from sma_response.report.i18n import LANGUAGES, translations, use_language
    from sma_response.report.render import write_report
    from sma_response.report.spec import ReportSpec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    shap, patient, alternatives = synthetic_inputs()
    basis = synthetic_basis()

    def one(language: str, folder: Path) -> float:
        gc.collect()  # a collection inside one language's timing is noise, not its cost
        started = time.perf_counter()
        with use_language(language):
            report = build_patient_context(
                shap, patient=patient, alternatives=alternatives, basis=basis,
                spec=ReportSpec(), created="2026-01-01",
            )  # fmt: skip
        write_report(report, folder / language, formats=["html", "pdf"], family=True)
        return time.perf_counter() - started

    for language in LANGUAGES:
        translations(language)
    seconds: dict[str, list[float]] = {language: [] for language in LANGUAGES}
    with tempfile.TemporaryDirectory(prefix="bench-languages-") as tmp:
        one("en", Path(tmp))  # warm-up: fonts, WeasyPrint
        for _ in range(args.repeats):
            for language in LANGUAGES:
                seconds[language].append(one(language, Path(tmp)))
    medians = {language: statistics.median(v) for language, v in seconds.items()}
    ratios = {language: medians[language] / medians["en"] for language in LANGUAGES}
    result = {
        "python": platform.python_version(),
        "repeats": args.repeats,
        "seconds": seconds,
        "median_s": medians,
        "ratio_to_english": ratios,
        "budget_ratio": BUDGET_RATIO,
        "within_budget": all(r <= BUDGET_RATIO for r in ratios.values()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"report + family summary, HTML + PDF, one patient (median of {args.repeats}):")
    for language in LANGUAGES:
        print(f"  {language}  {medians[language]:.3f} s  {ratios[language]:.2f} x English")
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
