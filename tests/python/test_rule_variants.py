"""The documented rule variants work end to end (`ctd-rtp run --vars ...`), on the demo cohort
(counts as the README's table states them) and on the hand-worked own cohort (counts worked
out by hand below), and bad --vars are bad usage (exit 2)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES, PROJECT_DIR, cli_env, run_cli

pytestmark = pytest.mark.slow

README = PROJECT_DIR / "README.md"


def readme_variants() -> list[tuple[list[str], tuple[int, int, int], tuple[int, int, int]]]:
    """Rows of the README's rule-variant table: (ctd-rtp args, month 3 (CR, PR, evaluable), month 6 ...)."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.match(
            r"\| `\.venv/bin/ctd-rtp (run[^`]*)` \| (\d+) \+ (\d+) of (\d+) \| (\d+) \+ (\d+) of (\d+) \|$", line
        )
        if m:
            counts = tuple(map(int, m.groups()[1:]))
            rows.append((shlex.split(m.group(1)), counts[:3], counts[3:]))
    return rows


def rates(db: Path) -> dict[str, tuple[int, int, int]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            v: (cr, pr, n)
            for v, cr, pr, n in con.execute(
                "select visit, n_cr, n_pr, n_evaluable from marts.rpt_response_rates"
            ).fetchall()
        }


def test_readme_lists_the_documented_variants() -> None:
    commands = [" ".join(args) for args, _, _ in readme_variants()]
    assert commands[0] == "run" and len(commands) == 6
    for var in (
        "pr_rule: or",
        "require_confirmation: true",
        "cr_platelet_threshold",
        "bleeding_grade_nr",
        "missing_bleeding_assessment: not_evaluable",
    ):
        assert any(var in c for c in commands), var


@pytest.mark.parametrize(
    ("args", "month_3", "month_6"),
    readme_variants(),
    ids=[" ".join(a[1:]) or "defaults" for a, _, _ in readme_variants()],
)
def test_demo_variant_gives_the_readme_counts(args: list[str], month_3: tuple, month_6: tuple, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    proc = run_cli([*args, "--quiet", "--out-dir", str(tmp_path / "reports")], env)
    assert "all done" in proc.stdout
    got = rates(tmp_path / "warehouse.duckdb")
    assert (got["month_3"], got["month_6"]) == (month_3, month_6)
    html = (tmp_path / "reports" / "ctd_rtp_report_latest.html").read_text(encoding="utf-8")
    vars_text = args[2] if len(args) > 2 else ""
    if vars_text:  # the report says which vars were set
        assert "dbt vars set on the command line" in html
    if "not_evaluable" in vars_text:
        assert "makes a would-be CR/PR count NE" in html
    else:
        assert "counts as no bleeding" in html


# The hand-worked cohort (tests/python/fixtures/own_cohort). Day 0: A 2023-01-01, B 2023-02-01,
# C 2023-03-01 (drug 'rapamycin', an alias), D 2023-04-01. Baselines: A 20 (day -5), B 10, C 20,
# D none (its first count is day 5). Post-baseline counts and the assessment of their window:
#   A: day 90 = 45 (grade 0), day 180 = 120 (grade 0)
#   B: day 90 = 25 (grade 0), day 180 = 35 (grade 2)
#   C: day 88 = 35 (month 3 visit count), day 95 = 50, no assessment in month 3
#   D: day 5 = 15 (no window), day 90 = 60: no baseline, NE throughout
# Visit responses month_1 / month_3 / month_6 per patient, and best response, by variant:
OWN_VARIANTS = {
    "defaults": (
        None,
        {"A": "NE PR CR", "B": "NE NR NR", "C": "NE NR NE", "D": "NE NE NE"},
        # A 45 >= 30 and >= 2x20; 120 >= 100. B 25 < 30; 35 meets the rule but grade 2.
        # C 35 < 2x20 (visit count); 50 on day 95 meets it (no assessment = no bleeding)
        {"A": "CR", "B": "NR", "C": "PR", "D": "NE"},
    ),
    "or": (
        "{pr_rule: or}",
        {"A": "NE PR CR", "B": "NE PR NR", "C": "NE PR NE", "D": "NE NE NE"},
        # B 25 >= 2x10; C 35 >= 30
        {"A": "CR", "B": "PR", "C": "PR", "D": "NE"},
    ),
    "confirmation": (
        "{require_confirmation: true}",
        {"A": "NE NR NR", "B": "NE NR NR", "C": "NE NR NE", "D": "NE NE NE"},
        # A has one count per window; C's day-95 50 has only day 88 (35 < 40) 7 days away
        {"A": "NR", "B": "NR", "C": "NR", "D": "NE"},
    ),
    "or_confirmation": (
        "{pr_rule: or, require_confirmation: true}",
        {"A": "NE NR NR", "B": "NE NR NR", "C": "NE PR NE", "D": "NE NE NE"},
        # C: day 88 (35 >= 30) and day 95 (50) confirm each other, 7 days apart
        {"A": "NR", "B": "NR", "C": "PR", "D": "NE"},
    ),
    "thresholds": (
        "{cr_platelet_threshold: 150, pr_platelet_threshold: 50}",
        {"A": "NE NR PR", "B": "NE NR NR", "C": "NE NR NE", "D": "NE NE NE"},
        # A 45 < 50, 120 >= 50 (not 150); C day 95 50 >= 50 and >= 40
        {"A": "PR", "B": "NR", "C": "PR", "D": "NE"},
    ),
    "bleeding_3": (
        "{bleeding_grade_nr: 3}",
        {"A": "NE PR CR", "B": "NE NR NR", "C": "NE NR NE", "D": "NE NE NE"},
        # B day 180: grade 2 < 3 and 35 >= 30 and >= 20, but the same day's assessment
        # records rescue therapy ("yes"): a response explained by rescue is NR (IWG 2009)
        {"A": "CR", "B": "NR", "C": "PR", "D": "NE"},
    ),
    "not_evaluable": (
        "{missing_bleeding_assessment: not_evaluable}",
        {"A": "NE PR CR", "B": "NE NR NR", "C": "NE NR NE", "D": "NE NE NE"},
        # C day 95 would be PR but month 3 has no assessment: NE; best NR
        {"A": "CR", "B": "NR", "C": "NR", "D": "NE"},
    ),
}


@pytest.mark.parametrize("variant", list(OWN_VARIANTS))
def test_own_cohort_variant_matches_the_hand_worked_responses(variant: str, tmp_path: Path) -> None:
    dbt_vars, visits, best = OWN_VARIANTS[variant]
    env = cli_env(tmp_path, FIXTURES / "own_cohort")
    run_cli(["build", "--quiet", *(["--vars", dbt_vars] if dbt_vars else [])], env)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        got = con.execute(
            "select patient_id, string_agg(response, ' ' order by visit_order) "
            "from marts.fct_platelet_response group by 1"
        ).fetchall()
        got_best = con.execute("select patient_id, best_response from marts.fct_patient_response_summary").fetchall()
    assert dict(got) == visits
    assert dict(got_best) == best


@pytest.mark.parametrize(
    ("vars_text", "message"),
    [
        ("{cr_platelet_treshold: 50}", "unknown var(s) cr_platelet_treshold (did you mean cr_platelet_threshold?)"),
        ("{pr_rule: or", "--vars is not valid YAML"),
        ("pr_rule", "--vars must be a mapping"),
        ("{pr_rule: maybe}", "var pr_rule must be one of and, or"),
        ("{require_confirmation: 3}", "var require_confirmation must be true or false"),
        ("{bleeding_grade_nr: two}", "var bleeding_grade_nr must be a number"),
        ("{missing_bleeding_assessment: skip}", "must be one of no_bleeding, not_evaluable"),
        ("{data_cutoff_date: 31/01/2024}", "var data_cutoff_date must be an ISO date"),
        ("{corticosteroid_dependence_as_nr: 1}", "var corticosteroid_dependence_as_nr must be true or false"),
    ],
)
@pytest.mark.parametrize("command", ["build", "run"])
def test_bad_vars_are_bad_usage(command: str, vars_text: str, message: str, tmp_path: Path) -> None:
    proc = run_cli([command, "--vars", vars_text], cli_env(tmp_path), check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr, proc.stderr
    if "unknown" in message:  # names every var the project declares
        declared = proc.stderr.split("the project declares: ")[1]
        assert "bleeding_grade_nr" in declared and "cr_platelet_threshold" in declared and "pr_rule" in declared
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing built, nothing published
