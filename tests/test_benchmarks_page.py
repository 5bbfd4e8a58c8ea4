"""BENCHMARKS.md is generated from bench/results.json (bench/report.py): a hand edit of either, or
a results file the page was not rendered from, fails here."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from report import render  # noqa: E402


def test_the_benchmarks_page_is_rendered_from_the_committed_results() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    assert not results["quick"], "bench/results.json holds a quick run: run `make bench`"
    page = (ROOT / "BENCHMARKS.md").read_text()
    assert page == render(results), "BENCHMARKS.md differs: run `python bench/report.py`"


def test_every_goal_row_reports_baseline_result_and_verdict() -> None:
    page = render(json.loads((ROOT / "bench" / "results.json").read_text()))
    summary = page[page.index("## Summary") : page.index("## P1")]
    goal_rows = [line for line in summary.splitlines() if line.startswith("| P")]
    assert {row.split("|")[1].strip() for row in goal_rows} == {"P1", "P2", "P3", "P4", "P5"}
    for row in goal_rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if cells[2] != "—":  # a row with a goal states its result and whether it was met
            assert cells[4] and cells[6] in ("**met**", "missed"), row
