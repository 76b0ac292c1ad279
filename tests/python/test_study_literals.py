"""The study is defined in one place (dbt_project.yml vars, or a CTD_RTP_STUDY file): no model,
macro, Python module or template names the demo study's drug, analytes or visits.

The known literals of the CTD-RTP demo are searched for in every SQL, Python and Jinja file of
the product. The exceptions, each with its reason, are listed here, in one place.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import PROJECT_DIR

# The demo study's literals (dbt_project.yml vars): drug and alias, analytes, visits, endpoint
# column names, trough target and response thresholds as Python tuples.
LITERALS = re.compile(
    r"\bsirolimus\b|\brapamycin\b|\bSIRO_TROUGH\b|['\"]PLT['\"]|\bmonth_\d+(?!\d)|\(4, 15\)|\(30, 100\)"
    r"|\bSLE\b|\bother CTD\b",
    re.IGNORECASE,
)
SCANNED = ("models", "macros", "analyses", "python/ctd_rtp")
SUFFIXES = (".sql", ".py", ".j2")
# path (relative to the project) -> why it may hold the demo's literals
EXCEPTIONS = {
    "python/ctd_rtp/cohort.py": "the generator of the synthetic demo cohort itself (`ctd-rtp synth`): "
    "its data are the demo study's",
}


def scanned_files() -> list[Path]:
    return sorted(
        p for folder in SCANNED for p in (PROJECT_DIR / folder).rglob("*") if p.suffix in SUFFIXES and p.is_file()
    )


def test_no_study_literal_outside_the_definition() -> None:
    found = []
    for path in scanned_files():
        rel = path.relative_to(PROJECT_DIR).as_posix()
        if rel in EXCEPTIONS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if LITERALS.search(line):
                found.append(f"{rel}:{number}: {line.strip()[:120]}")
    assert not found, "study literals outside the study definition:\n" + "\n".join(found)


def test_the_scan_finds_what_it_looks_for() -> None:
    """The pattern catches each known literal (so the test above can fail)."""
    for text in (
        "drug = 'sirolimus'",
        "case when drug = 'rapamycin'",
        "analyte = 'SIRO_TROUGH'",
        "where analyte = 'PLT'",
        "visit = 'month_6'",
        "month_6_response",
        "target=(4, 15)",
        "thresholds=(30, 100)",
        "ctd_diagnosis = 'SLE'",
    ):
        assert LITERALS.search(text), text
    assert len(scanned_files()) > 40
    for rel in EXCEPTIONS:
        assert (PROJECT_DIR / rel).is_file(), f"exception for a file that does not exist: {rel}"
