"""Real export variants of the hand-worked cohort (export_variants.py), end to end.

Declared in delivery.yml, each variant gives the marts of the reference cohort; undeclared, it
is quarantined (or the build stops) with a reason naming the format, and `ctd-rtp check`
says what to declare. The rows the check predicts are compared with the build's quarantine
on every delivery, so the two readings of the rules cannot drift apart.
Variants on different files share a build (export_variants.plan_deliveries); two builds run
at a time.
"""

from __future__ import annotations

import csv
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

import export_variants as ev
from conftest import PROJECT_DIR, cli_env, run_cli
from ctd_rtp import check
from faults import TABLES, BuildFails, FieldQuarantined, Quarantined

pytestmark = pytest.mark.slow

# columns that legitimately differ between a variant and the reference cohort
IGNORED_COLUMNS = {"cohort", "source_file", "load_batch", "lab_flag"}


@dataclass
class Built:
    name: str
    raw: Path
    db_path: Path
    returncode: int
    stderr: str
    stdout: str
    report: check.Report
    check_output: str


def _build(name: str, raw: Path, root: Path) -> Built:
    work = root / name / "wh"
    work.mkdir(parents=True)
    env = cli_env(work, raw)
    env.pop("CTD_RTP_PSEUDONYM_SALT", None)
    # an undeclared format quarantines far more than max_quarantined_share: the delivery gate
    # refuses it (test_undeclared_delivery_is_refused_by_the_gate); accepted here to read the reasons
    accept = ["--accept-delivery"] if name.startswith("undeclared") else []
    proc = run_cli(["build", "--quiet", *accept], env, check=False)
    report = check.run_check(raw, PROJECT_DIR, 0.05, root / name / "lab_test_map.stub.csv")
    return Built(
        name, raw, work / "warehouse.duckdb", proc.returncode, proc.stderr, proc.stdout, report, check.render(report)
    )


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """'reference' and every planned delivery, built once: delivery name -> build."""
    root = tmp_path_factory.mktemp("corpus")
    jobs = [("reference", ev.reference_cohort().write(root / "reference" / "raw") and root / "reference" / "raw")]
    for delivery in ev.plan_deliveries():
        jobs.append((delivery.name, delivery.write(root / delivery.name / "raw")))
    with ThreadPoolExecutor(max_workers=2) as pool:
        builds = list(pool.map(lambda job: _build(job[0], job[1], root), jobs))
    return {b.name: b for b in builds}


def test_undeclared_delivery_is_refused_by_the_gate(corpus: dict[str, Built]) -> None:
    undeclared = [b for name, b in corpus.items() if name.startswith("undeclared") and b.returncode == 0]
    assert undeclared
    for built in undeclared:
        assert "delivery accepted with --accept-delivery although the gate would refuse it" in built.stdout, built.name


def _delivery_of(variant: ev.Variant, declared: bool) -> str:
    return next(d.name for d in ev.plan_deliveries() if d.declared == declared and variant in d.variants)


def marts(db_path: Path) -> dict[str, list[tuple]]:
    """Every mart's rows (sorted), without the columns that legitimately differ."""
    out = {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'marts' and table_name = ?"
                    " order by ordinal_position",
                    [table],
                ).fetchall()
                if c not in IGNORED_COLUMNS
            ]
            out[table] = sorted(con.execute(f"select {', '.join(columns)} from marts.{table}").fetchall(), key=repr)
    return out


def _differences(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> list[str]:
    problems = []
    for table in want:
        a, b = got.get(table, []), want[table]
        same = len(a) == len(b) and all(
            all(
                (math.isclose(x, y, rel_tol=1e-12) if isinstance(x, float) and isinstance(y, float) else x == y)
                for x, y in zip(ra, rb)
            )
            for ra, rb in zip(a, b)
        )
        if not same:
            extra = [r for r in a if r not in b][:3]
            missing = [r for r in b if r not in a][:3]
            problems.append(
                f"{table}: {len(a)} rows vs {len(b)}; only in the variant {extra}; only in the reference {missing}"
            )
    return problems


def test_reference_cohort_builds_clean(corpus: dict[str, Built]) -> None:
    ref = corpus["reference"]
    assert ref.returncode == 0, ref.stderr[-3000:]
    with duckdb.connect(str(ref.db_path), read_only=True) as con:
        assert con.execute("select count(*) from quarantine.quarantined_rows").fetchone() == (0,)
        assert con.execute("select term from marts.fct_adverse_events where ae_id = 'AE1'").fetchone() == (
            "Ulcération buccale",
        )
        assert con.execute(
            "select patient_id, visit, response from marts.fct_platelet_response where response in ('CR', 'PR') "
            "order by 1, 2"
        ).fetchall() == [("A", "month_3", "PR"), ("A", "month_6", "CR")]


@pytest.mark.parametrize("variant", ev.VARIANTS, ids=[v.name for v in ev.VARIANTS])
def test_declared_variant_gives_the_reference_marts(variant: ev.Variant, corpus: dict[str, Built]) -> None:
    built = corpus[_delivery_of(variant, declared=True)]
    assert built.returncode == 0, built.stderr[-3000:]
    with duckdb.connect(str(built.db_path), read_only=True) as con:
        quarantined = con.execute(
            "select source_table, row_key, rejection_reason from quarantine.quarantined_rows"
        ).fetchall()
    assert quarantined == [], quarantined
    problems = _differences(marts(built.db_path), marts(corpus["reference"].db_path))
    assert not problems, "\n".join(problems)
    assert not built.report.refused, built.check_output


def test_value_flags_reach_fct_lab_results(corpus: dict[str, Built]) -> None:
    flags = next(v for v in ev.VARIANTS if v.name == "flags_and_unit_spellings")
    built = corpus[_delivery_of(flags, declared=True)]
    with duckdb.connect(str(built.db_path), read_only=True) as con:
        got = dict(
            con.execute("select result_id, lab_flag from marts.fct_lab_results where lab_flag is not null").fetchall()
        )
        values = dict(
            con.execute(
                "select result_id, value from marts.fct_lab_results where result_id in ('A1', 'C3', 'B2')"
            ).fetchall()
        )
    # the flagged rows of patients with a day 0 (all four) are in fct_lab_results
    assert got == ev.FLAGGED
    assert values == {"A1": 25.0, "C3": 50.0, "B2": 25.0}


@pytest.mark.parametrize(
    "variant", [v for v in ev.VARIANTS if v.undeclared], ids=[v.name for v in ev.VARIANTS if v.undeclared]
)
def test_undeclared_variant_names_the_format(variant: ev.Variant, corpus: dict[str, Built]) -> None:
    built = corpus[_delivery_of(variant, declared=False)]
    for expectation in variant.undeclared:
        if isinstance(expectation, BuildFails):
            assert built.returncode == 3, f"expected exit 3, got {built.returncode}"
            missing = [f for f in expectation.fragments if f not in built.stderr]
            assert not missing, f"error output lacks {missing}:\n{built.stderr[-3000:]}"
            continue
        assert built.returncode == 0, built.stderr[-3000:]
        if isinstance(expectation, FieldQuarantined):  # listed whether or not its row is quarantined too
            with duckdb.connect(str(built.db_path), read_only=True) as con:
                rows = con.execute(
                    "select field_name, rejection_reason from quarantine.quarantined_fields "
                    "where source_table = ? and row_key = ? and field_name = ?",
                    [expectation.table, expectation.key, expectation.field_name],
                ).fetchall()
            assert rows == [(expectation.field_name, expectation.reason)], (
                f"{expectation.table} {expectation.key}: {rows}"
            )
            continue
        assert isinstance(expectation, Quarantined)
        with duckdb.connect(str(built.db_path), read_only=True) as con:
            rows = con.execute(
                "select rejection_reason from quarantine.quarantined_rows where source_table = ? and row_key = ?",
                [expectation.table, expectation.key],
            ).fetchall()
        assert rows == [(expectation.reason,)], f"{expectation.table} {expectation.key}: {rows}"


@pytest.mark.parametrize(
    "variant", [v for v in ev.VARIANTS if v.undeclared], ids=[v.name for v in ev.VARIANTS if v.undeclared]
)
def test_check_says_what_to_declare(variant: ev.Variant, corpus: dict[str, Built]) -> None:
    built = corpus[_delivery_of(variant, declared=False)]
    missing = [h for h in variant.hints if h not in built.check_output]
    assert not missing, f"ctd-rtp check output lacks {missing}:\n{built.check_output}"
    assert built.report.refused, built.check_output  # every undeclared delivery is above the 5% gate


@pytest.mark.parametrize(
    "delivery", [d.name for d in ev.plan_deliveries() if not d.name.endswith("_fails")] + ["reference"]
)
def test_check_predicts_the_quarantine(delivery: str, corpus: dict[str, Built]) -> None:
    """Per table and reason, the rows ctd-rtp check says would be quarantined are the rows the build quarantines."""
    built = corpus[delivery]
    assert built.returncode == 0, built.stderr[-3000:]
    with duckdb.connect(str(built.db_path), read_only=True) as con:
        quarantined = {
            (t, reason): n
            for t, reason, n in con.execute(
                "select source_table, rejection_reason, count(*) from quarantine.quarantined_rows group by 1, 2"
            ).fetchall()
        }
        for t in TABLES:
            assert con.execute(f"select count(*) from staging.stg_{t}").fetchone()[0] == built.report.rows[t]
        fields = {
            (t, f"{reason} (field nulled)"): n
            for t, reason, n in con.execute(
                "select source_table, rejection_reason, count(*) from quarantine.quarantined_fields group by 1, 2"
            ).fetchall()
        }
    predicted = {(r.table, r.reason): r.rows for r in built.report.rules}
    assert predicted == {**quarantined, **fields}


# --------------------------------------------------------------------------- local maps and the CLI


def _local_codes(folder: Path) -> Path:
    """The reference cohort with the laboratory's own platelet code THROMBO (and a unit it spells its way)."""
    cohort = ev.reference_cohort()
    for row in cohort.tables["lab_results"].rows:
        if row["test_code"] == "PLT":
            row["test_code"], row["unit"] = "THROMBO", ("Gpt/L" if row["unit"] == "G/L" else row["unit"])
    cohort.write(folder)
    return folder


def test_map_stub_loads_as_a_local_map(tmp_path: Path, corpus: dict[str, Built]) -> None:
    raw = _local_codes(tmp_path / "raw")
    stub = tmp_path / "stub.csv"
    env = cli_env(tmp_path / "wh")
    proc = run_cli(["check", str(raw), "--map-stub", str(stub)], env, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "unknown (test code, unit): 2 pair(s), 10 row(s)" in proc.stdout, proc.stdout
    with stub.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["source_code"], r["source_unit"], r["analyte"], r["factor"]) for r in rows] == [
        ("THROMBO", "10^9/L", "", ""),
        ("THROMBO", "Gpt/L", "", ""),
    ]
    for r in rows:  # what the data manager fills in
        r["analyte"], r["factor"] = "PLT", "1"
    with (raw / "lab_test_map.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    proc = run_cli(["check", str(raw), "--map-stub", str(tmp_path / "stub2.csv")], env, check=False)
    assert proc.returncode == 0, proc.stdout
    assert "unknown (test code, unit)" not in proc.stdout
    (tmp_path / "wh").mkdir()
    run_cli(["build", "--quiet"], cli_env(tmp_path / "wh", raw))
    problems = _differences(marts(tmp_path / "wh" / "warehouse.duckdb"), marts(corpus["reference"].db_path))
    assert not problems, "\n".join(problems)


def test_local_map_conflicting_with_the_shipped_map_stops_the_build(tmp_path: Path) -> None:
    raw = ev.reference_cohort().write(tmp_path / "raw") and tmp_path / "raw"
    (raw / "lab_test_map.csv").write_text(
        "source_code,source_unit,analyte,factor\nTHROMBO,10^9/L,PLT,1\nplt,10^9/l,WBC,1\n", encoding="utf-8"
    )
    proc = run_cli(["check", str(raw), "--map-stub", str(tmp_path / "stub.csv")], cli_env(tmp_path / "wh"), check=False)
    conflict = (
        "lab_test_map.csv line 3 (plt, 10^9/l -> WBC x1) conflicts with the shipped seeds/reference/lab_test_map.csv "
        "row (PLT, 10^9/L -> PLT x1)"
    )
    assert proc.returncode == 3 and conflict in proc.stdout, proc.stdout
    (tmp_path / "wh").mkdir()
    proc = run_cli(["build", "--quiet"], cli_env(tmp_path / "wh", raw), check=False)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert conflict in proc.stderr, proc.stderr[-3000:]


def test_check_exit_codes_and_threshold(tmp_path: Path, corpus: dict[str, Built]) -> None:
    env = cli_env(tmp_path)
    proc = run_cli(["check", str(tmp_path / "absent")], env, check=False)
    assert proc.returncode == 2 and "is not a folder" in proc.stderr
    undeclared = corpus[_delivery_of(ev.VARIANTS[0], declared=False)].raw
    proc = run_cli(["check", str(undeclared), "--map-stub", str(tmp_path / "s.csv")], env, check=False)
    assert proc.returncode == 3 and "verdict: REFUSED (exit 3)" in proc.stdout, proc.stdout
    # every lab row of that delivery fails: a gate at 100% lets it through
    proc = run_cli(
        ["check", str(undeclared), "--vars", "{max_quarantined_share: 1}", "--map-stub", str(tmp_path / "s.csv")],
        env,
        check=False,
    )
    assert proc.returncode == 0 and "verdict: OK" in proc.stdout, proc.stdout
    proc = run_cli(["check", str(undeclared), "--vars", "{max_quarantined_share: 2}"], env, check=False)
    assert proc.returncode == 2 and "between 0 and 1" in proc.stderr


def test_latin1_without_declaration_is_explained_by_check(tmp_path: Path) -> None:
    cohort = ev.reference_cohort()
    ev.latin1_german_booleans(cohort)
    raw = tmp_path / "raw"
    cohort.write(raw)
    report = check.run_check(raw, PROJECT_DIR, 0.05, tmp_path / "stub.csv")
    text = check.render(report)
    assert "adverse_events.csv: not UTF-8 text; it reads as" in text and "declare `encoding: " in text, text
    assert report.refused


def test_bad_delivery_yml_is_a_clear_error(tmp_path: Path) -> None:
    raw = ev.reference_cohort().write(tmp_path / "raw") and tmp_path / "raw"
    (raw / "delivery.yml").write_text("date_order: dym\n", encoding="utf-8")
    report = check.run_check(raw, PROJECT_DIR, 0.05, None)
    assert "delivery.yml: date_order is dym; expected ymd, dmy or mdy" in check.render(report)
    (tmp_path / "wh").mkdir()
    proc = run_cli(["build", "--quiet"], cli_env(tmp_path / "wh", raw), check=False)
    assert proc.returncode == 2 and "delivery.yml: date_order is dym; expected ymd, dmy or mdy" in proc.stderr, (
        proc.stderr
    )
    shutil.rmtree(tmp_path / "wh")
