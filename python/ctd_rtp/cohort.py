"""Deterministic synthesis of a cohort in the raw input contract (STUDY.md section 4).

The bundled demo cohort is SYNTHETIC: no row describes a real person. It is calibrated so
that the warehouse, computing from raw rows, reproduces the published figures (month 3:
1 CR + 7 PR of 13; month 6: 10 responders of 13; Tregs up baseline -> month 6).

How calibration works without re-implementing the warehouse here: every patient gets a
planned response path (month 1, month 3, month 6). The platelet count drawn on each planned
visit day is sampled inside the band that category implies (e.g. PR: >= 30 and >= 2x baseline,
< 100), with margins, and the other draws are interpolated between visits so they can never
be closer to a visit's target day. The warehouse derives responses independently; a dbt test
asserts the published counts, so a drift in either side fails the build.

Randomness comes from `random.Random(seed)` (a stable, documented stream across Python
versions), so regenerating writes the committed files byte for byte.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from contextlib import ExitStack
from typing import Any, Iterable, Iterator

SYNTHETIC_NOTICE = "SYNTHETIC demo cohort (no real patient data)"
DEMO_SEED = 20201101
DEMO_PATIENTS = 13

# Column order of each raw table, as in the input contract.
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": (
        "patient_id", "sex", "birth_year", "ctd_diagnosis", "ctd_diagnosed_on",
        "thrombocytopenia_diagnosed_on", "prior_therapy_lines",
    ),
    "drug_exposures": ("exposure_id", "patient_id", "drug", "started_on", "ended_on", "daily_dose_mg"),
    "lab_results": ("result_id", "patient_id", "collected_on", "test_code", "value", "unit"),
    "visit_assessments": (
        "patient_id", "assessed_on", "who_bleeding_grade", "prednisone_equivalent_mg_day", "rescue_therapy",
    ),
    "adverse_events": (
        "ae_id", "patient_id", "onset_on", "resolved_on", "term", "ctcae_grade", "serious", "related_to_study_drug",
    ),
}

# The demo's planned response path per patient: (month_1, month_3, month_6).
# "NRB" = counts meet PR but WHO bleeding grade 2 -> NR by the IWG rule.
# "--" = visit missed (no draw in the window) -> NE.
# Month 3: 1 CR + 7 PR -> ORR 8/13. Month 6: 3 CR + 7 PR -> ORR 10/13, with one loss of
# response (P08) and three late responders (P09-P11).
DEMO_PLAN: tuple[tuple[str, str, str], ...] = (
    ("PR", "CR", "CR"),
    ("PR", "PR", "CR"),
    ("NR", "PR", "CR"),
    ("PR", "PR", "PR"),
    ("NR", "PR", "PR"),
    ("NR", "PR", "PR"),
    ("NR", "PR", "PR"),
    ("PR", "PR", "NR"),
    ("NR", "NR", "PR"),
    ("NR", "NR", "PR"),
    ("NR", "NRB", "PR"),
    ("NR", "NR", "NR"),
    ("--", "NR", "NR"),
)
DEMO_DIAGNOSES = ("SLE", "SLE", "pSS", "SLE", "SLE", "RA", "SLE", "SLE", "pSS", "SLE", "UCTD", "SLE", "pSS")
DEMO_SEXES = ("F", "F", "F", "M", "F", "F", "F", "F", "F", "F", "M", "F", "F")

# Planned draw days (study days). Visit days sit at the target; the others are far enough
# from every target that the window rule ("closest to target") always picks the visit draw.
SCREENING_DAY = -14
CBC_DAYS = (7, 14, 21, 44, 60, 75, 110, 130, 150, 162)
VISIT_DAYS = {"baseline": 0, "month_1": 30, "month_3": 90, "month_6": 180}
TROUGH_DAYS = (30, 60, 90, 120, 150, 180)
PANEL_VISITS = ("baseline", "month_3", "month_6")

# Random-cohort transition probabilities (used when no plan is given, e.g. large cohorts).
_RANDOM_PATH_WEIGHTS = {"CR": 0.10, "PR": 0.50, "NR": 0.40}


@dataclass
class _Tables:
    """Rows of each raw table, as lists of strings in contract column order."""

    rows: dict[str, list[list[str]]] = field(default_factory=lambda: {t: [] for t in RAW_COLUMNS})
    next_lab_id: int = 1
    next_exposure_id: int = 1
    next_ae_id: int = 1


def _fmt(value: float, decimals: int) -> str:
    if decimals == 0:
        return str(int(round(value)))
    return f"{value:.{decimals}f}"


def _platelet_for(category: str, baseline: float, rng: random.Random) -> float:
    """A visit platelet count (10^9/L) that falls clearly inside a response category."""
    pr_floor = max(30.0, 2.0 * baseline)
    if category == "CR":
        return rng.uniform(112, 210)
    if category in ("PR", "NRB"):
        return rng.uniform(pr_floor + 4, 94)
    # NR: below both 30 and twice the baseline, with a margin.
    return rng.uniform(max(3.0, 0.7 * baseline), min(2.0 * baseline, 30.0) - 3)


def _interpolate(day: int, anchors: list[tuple[int, float]], rng: random.Random) -> float:
    """Log-linear interpolation between visit anchors with multiplicative noise."""
    for (d0, v0), (d1, v1) in zip(anchors, anchors[1:]):
        if d0 <= day <= d1:
            w = (day - d0) / (d1 - d0)
            centre = math.exp((1 - w) * math.log(v0) + w * math.log(v1))
            return max(2.0, centre * math.exp(rng.gauss(0, 0.10)))
    return anchors[-1][1]


def _random_plan(rng: random.Random) -> tuple[str, str, str]:
    cats = list(_RANDOM_PATH_WEIGHTS)
    weights = list(_RANDOM_PATH_WEIGHTS.values())
    m1 = rng.choices(["PR", "NR"], [0.35, 0.65])[0]
    m3 = rng.choices(cats, weights)[0]
    # Responders mostly keep responding; some non-responders respond late.
    m6 = m3 if rng.random() < 0.8 else rng.choices(cats, [0.15, 0.55, 0.30])[0]
    return (m1, m3, m6)


def _add_lab(t: _Tables, pid: str, on: date, code: str, value: str, unit: str) -> None:
    t.rows["lab_results"].append([f"L{t.next_lab_id:07d}", pid, on.isoformat(), code, value, unit])
    t.next_lab_id += 1


def _patient(t: _Tables, index: int, n: int, rng: random.Random, plan: tuple[str, str, str] | None,
             diagnosis: str | None, sex: str | None) -> None:
    pid = f"P{index + 1:02d}" if n < 100 else f"P{index + 1:07d}"
    # Consecutive enrolment between November 2020 and December 2023.
    enrol_span = (date(2023, 12, 11) - date(2020, 11, 9)).days
    day0 = date(2020, 11, 9) + timedelta(days=round(enrol_span * index / max(n - 1, 1)) + rng.randint(0, 3))
    path = plan or _random_plan(rng)
    diagnosis = diagnosis or rng.choices(["SLE", "pSS", "RA", "SSc", "MCTD", "UCTD", "IIM"],
                                         [0.55, 0.18, 0.08, 0.05, 0.05, 0.06, 0.03])[0]
    sex = sex or rng.choices(["F", "M"], [0.85, 0.15])[0]
    age = rng.randint(24, 64)
    ctd_years = rng.uniform(1.5, 14)
    itp_years = rng.uniform(0.5, min(ctd_years, 5))
    t.rows["patients"].append([
        pid, sex, str(day0.year - age), diagnosis,
        (day0 - timedelta(days=round(365.25 * ctd_years))).isoformat(),
        (day0 - timedelta(days=round(365.25 * itp_years))).isoformat(),
        str(rng.randint(2, 5)),
    ])

    # --- platelets and the rest of the blood count -------------------------------------
    baseline = float(rng.randint(6, 27))
    visit_plt = {"baseline": baseline}
    for visit, category in zip(("month_1", "month_3", "month_6"), path):
        if category != "--":
            visit_plt[visit] = _platelet_for(category, baseline, rng)
    anchors = sorted((VISIT_DAYS[v], p) for v, p in visit_plt.items())
    anchors = [(SCREENING_DAY, baseline * rng.uniform(0.8, 1.25))] + anchors
    days = {SCREENING_DAY: anchors[0][1]}
    for d in CBC_DAYS:
        days[d] = _interpolate(d, anchors, rng)
    for visit, p in visit_plt.items():
        days[VISIT_DAYS[visit]] = p
    if path[0] == "--":  # missed the whole month-1 window: no draw between day 15 and 45
        for d in (21, 44):
            days.pop(d, None)
    # Outside laboratory (different code and unit) for a few draws of some patients.
    outside_lab = rng.random() < 0.3
    lymph0 = rng.uniform(0.6, 1.9)
    for d in sorted(days):
        on = day0 + timedelta(days=d)
        plt = days[d]
        if outside_lab and d in (14, 60):
            _add_lab(t, pid, on, "Platelet count", _fmt(plt, 0), "10^3/uL")
        else:
            _add_lab(t, pid, on, "PLT", _fmt(plt, 0), "10^9/L")
        _add_lab(t, pid, on, "WBC", _fmt(rng.uniform(3.0, 8.5), 2), "10^9/L")
        _add_lab(t, pid, on, "HGB", _fmt(rng.uniform(95, 140), 0), "g/L")
        _add_lab(t, pid, on, "LYMPH", _fmt(lymph0 * rng.uniform(0.85, 1.15), 2), "10^9/L")

    # --- immunology panel, cytokines and lipids at baseline, month 3, month 6 ----------
    treg0 = rng.uniform(2.0, 4.4)
    treg_gain = {"baseline": 0.0, "month_3": rng.gauss(0.7, 0.6), "month_6": rng.gauss(1.5, 0.8)}
    cd4 = rng.uniform(26, 44)
    cd8 = rng.uniform(18, 36)
    cd19 = rng.uniform(6, 22)
    nk = rng.uniform(6, 20)
    il6, il17, il10 = rng.uniform(4, 20), rng.uniform(6, 25), rng.uniform(2, 7)
    tc0, tg0 = rng.uniform(3.6, 5.2), rng.uniform(0.9, 1.9)
    chol_in_mg_dl = rng.random() < 0.15
    for k, visit in enumerate(PANEL_VISITS):
        on = day0 + timedelta(days=VISIT_DAYS[visit])
        lymph = lymph0 * 1000  # cells/uL
        cd4_v = cd4 * rng.uniform(0.92, 1.08)
        cd8_v = cd8 * rng.uniform(0.92, 1.08)
        cd3_v = min(90.0, cd4_v + cd8_v + rng.uniform(2, 8))
        cd19_v = cd19 * rng.uniform(0.85, 1.05) * (1 - 0.05 * k)
        nk_v = nk * rng.uniform(0.9, 1.1)
        treg_v = max(0.5, treg0 + treg_gain[visit])
        for code, value, dec, unit in (
            ("CD3_PCT", cd3_v, 1, "%"), ("CD3_ABS", cd3_v / 100 * lymph, 0, "cells/uL"),
            ("CD4_PCT", cd4_v, 1, "%"), ("CD4_ABS", cd4_v / 100 * lymph, 0, "cells/uL"),
            ("CD8_PCT", cd8_v, 1, "%"), ("CD8_ABS", cd8_v / 100 * lymph, 0, "cells/uL"),
            ("CD4_CD8", cd4_v / cd8_v, 2, "ratio"),
            ("CD19_PCT", cd19_v, 1, "%"), ("CD19_ABS", cd19_v / 100 * lymph, 0, "cells/uL"),
            ("NK_PCT", nk_v, 1, "%"), ("NK_ABS", nk_v / 100 * lymph, 0, "cells/uL"),
            ("TREG_PCT", treg_v, 2, "%"), ("TREG_ABS", treg_v / 100 * cd4_v / 100 * lymph, 1, "cells/uL"),
        ):
            _add_lab(t, pid, on, code, _fmt(value, dec), unit)
        cytokines = {
            "IL2": rng.uniform(0.8, 4.0), "IL4": rng.uniform(0.5, 4.0), "IL6": il6 * (1 - 0.15 * k) * rng.uniform(0.8, 1.2),
            "IL10": il10 * (1 + 0.1 * k) * rng.uniform(0.85, 1.15), "IL17A": il17 * (1 - 0.1 * k) * rng.uniform(0.8, 1.2),
            "TNFA": rng.uniform(1.0, 6.0), "IFNG": rng.uniform(2.0, 12.0),
        }
        for code, value in cytokines.items():
            text = _fmt(value, 2)
            if code == "IL4" and value < 1.0:
                text = "<1.00"  # below the assay's limit of detection, as real exports write it
            _add_lab(t, pid, on, code, text, "pg/mL")
        tc, tg = tc0 * (1 + 0.08 * k) * rng.uniform(0.95, 1.05), tg0 * (1 + 0.15 * k) * rng.uniform(0.9, 1.1)
        if chol_in_mg_dl:
            _add_lab(t, pid, on, "CHOL", _fmt(tc / 0.02586, 0), "mg/dL")
            _add_lab(t, pid, on, "TRIG", _fmt(tg / 0.01129, 0), "mg/dL")
        else:
            _add_lab(t, pid, on, "TC", _fmt(tc, 2), "mmol/L")
            _add_lab(t, pid, on, "TG", _fmt(tg, 2), "mmol/L")

    # --- sirolimus: 1 mg/day, titrated once by the month-1 trough ----------------------
    clearance = rng.uniform(2.6, 8.0)  # trough ng/mL per mg/day for this patient
    dose_periods = [(0, 1.0)]
    first_trough = clearance * 1.0
    if first_trough < 4.0:
        dose_periods.append((35, 2.0 if first_trough < 3.0 else 1.5))
    elif first_trough > 12.0:
        dose_periods.append((35, 0.5))
    end_day = 180 + rng.randint(0, 20)
    ongoing = rng.random() < 0.4
    for i, (start, dose) in enumerate(dose_periods):
        stop = dose_periods[i + 1][0] - 1 if i + 1 < len(dose_periods) else end_day
        ended = "" if (ongoing and i + 1 == len(dose_periods)) else (day0 + timedelta(days=stop)).isoformat()
        t.rows["drug_exposures"].append([
            f"E{t.next_exposure_id:06d}", pid, "sirolimus", (day0 + timedelta(days=start)).isoformat(), ended,
            _fmt(dose, 1),
        ])
        t.next_exposure_id += 1
    if diagnosis == "SLE":
        t.rows["drug_exposures"].append([
            f"E{t.next_exposure_id:06d}", pid, "hydroxychloroquine",
            (day0 - timedelta(days=rng.randint(200, 2000))).isoformat(), "", "400.0",
        ])
        t.next_exposure_id += 1
    for d in TROUGH_DAYS:
        dose = [dz for s, dz in dose_periods if s <= d][-1]
        _add_lab(t, pid, day0 + timedelta(days=d + rng.randint(-2, 2)), "SIRO_TROUGH",
                 _fmt(clearance * dose * rng.uniform(0.8, 1.2), 1), "ng/mL")

    # --- visit assessments --------------------------------------------------------------
    pred = rng.choice([5.0, 7.5, 10.0, 15.0, 20.0])
    for k, visit in enumerate(("baseline", "month_1", "month_3", "month_6")):
        if visit == "month_1" and path[0] == "--":
            continue
        category = "baseline" if k == 0 else path[k - 1]
        grade = 2 if category == "NRB" else (rng.choice([0, 0, 1]) if k == 0 else rng.choice([0, 0, 0, 1]))
        if category in ("CR", "PR"):
            grade = min(grade, 1)
        t.rows["visit_assessments"].append([
            pid, (day0 + timedelta(days=VISIT_DAYS[visit])).isoformat(), str(grade),
            _fmt(max(2.5, pred * (1 - 0.15 * k)), 1), "false",
        ])

    # --- adverse events: grade 1-2 only ----------------------------------------------
    for term, probability, related in (
        ("Oral mucositis", 0.25, True), ("Hypertriglyceridaemia", 0.2, True),
        ("Upper respiratory tract infection", 0.2, False), ("Diarrhoea", 0.1, True), ("Acne", 0.08, True),
    ):
        if rng.random() < probability:
            onset = rng.randint(10, 170)
            t.rows["adverse_events"].append([
                f"AE{t.next_ae_id:05d}", pid, (day0 + timedelta(days=onset)).isoformat(),
                (day0 + timedelta(days=onset + rng.randint(5, 30))).isoformat(), term,
                str(rng.choice([1, 1, 2])), "false", "true" if related else "false",
            ])
            t.next_ae_id += 1


def iter_chunks(n_patients: int = DEMO_PATIENTS, seed: int = DEMO_SEED,
                chunk_size: int = 5000) -> Iterator[dict[str, list[list[str]]]]:
    """Rows of the five raw tables, `chunk_size` patients at a time (bounded memory).

    One random stream runs across chunks, so the output does not depend on the chunk size.
    With the demo size and seed, the calibrated plan (DEMO_PLAN) is used; any other size
    or seed draws response paths at random and adds a small share of messy rows.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    rng = random.Random(seed)
    calibrated = n_patients == DEMO_PATIENTS and seed == DEMO_SEED
    if calibrated:
        chunk_size = n_patients  # the demo's imperfections are placed across the whole cohort
    t = _Tables()
    for i in range(n_patients):
        first_lab = len(t.rows["lab_results"])
        _patient(t, i, n_patients, rng,
                 DEMO_PLAN[i] if calibrated else None,
                 DEMO_DIAGNOSES[i] if calibrated else None,
                 DEMO_SEXES[i] if calibrated else None)
        if not calibrated:
            _add_messy_rows(t.rows["lab_results"][first_lab:], rng)
        if (i + 1) % chunk_size == 0 or i + 1 == n_patients:
            if calibrated:
                _add_demo_imperfections(t)
            yield t.rows
            t.rows = {table: [] for table in RAW_COLUMNS}


def synthesize(n_patients: int = DEMO_PATIENTS, seed: int = DEMO_SEED) -> dict[str, list[list[str]]]:
    """All rows of a (small) synthetic cohort in memory. Large cohorts: `write_cohort`."""
    merged: dict[str, list[list[str]]] = {table: [] for table in RAW_COLUMNS}
    for chunk in iter_chunks(n_patients, seed):
        for table, rows in chunk.items():
            merged[table].extend(rows)
    return merged


# Share of lab rows made messy in random cohorts, and how (each is quarantined or handled).
MESSY_LAB_SHARE = 0.004


def _add_messy_rows(lab_rows: list[list[str]], rng: random.Random) -> None:
    """The mess of a real extract: unknown units, non-numeric text, censored values, /uL."""
    for row in lab_rows:
        if rng.random() >= MESSY_LAB_SHARE:
            continue
        kind = rng.randrange(5)
        if kind == 0:
            row[5] = "mmol/mol"  # a unit the map does not know -> quarantined
        elif kind == 1:
            row[4] = "see comment"  # non-numeric -> quarantined
        elif kind == 2:
            row[4] = ""  # empty export -> quarantined
        elif kind == 3 and row[3] in ("IL2", "IL4", "IL6", "IL10", "IL17A", "TNFA", "IFNG"):
            row[4] = "<1.00"  # below the limit of detection -> kept, censored
        elif kind == 4 and row[3] == "PLT" and row[5] == "10^9/L":
            row[4], row[5] = str(int(float(row[4]) * 1000)), "/uL"  # converted x0.001


def _add_demo_imperfections(t: _Tables) -> None:
    """The realistic mess the demo must show the warehouse handling (STUDY.md section 5)."""
    labs = t.rows["lab_results"]
    # One platelet count reported per microlitre by an outside lab (x0.001 -> 10^9/L).
    for row in labs:
        if row[1] == "P04" and row[3] == "PLT" and row[2] == _day_of(t, "P04", 44):
            row[3], row[4], row[5] = "PLT#", str(int(row[4]) * 1000), "/uL"
            break
    # One cytokine result exported with an empty value (assay failed): quarantined, not lost.
    for row in labs:
        if row[1] == "P05" and row[3] == "IL17A" and row[2] == _day_of(t, "P05", 180):
            row[4] = ""
            break


def _day_of(t: _Tables, pid: str, study_day: int) -> str:
    start = min(r[3] for r in t.rows["drug_exposures"] if r[1] == pid and r[2] == "sirolimus")
    return (date.fromisoformat(start) + timedelta(days=study_day)).isoformat()


def write_csv(rows: dict[str, list[list[str]]], out_dir: Path) -> list[Path]:
    """Write one CSV per raw table (header + rows, LF line endings). Returns the paths."""
    return write_cohort_chunks([rows], out_dir, "csv")


def write_cohort(out_dir: Path, n_patients: int = DEMO_PATIENTS, seed: int = DEMO_SEED,
                 fmt: str = "csv", chunk_size: int = 5000) -> list[Path]:
    """Stream a synthetic cohort to `<table>.csv` or `<table>.parquet` files in `out_dir`."""
    return write_cohort_chunks(iter_chunks(n_patients, seed, chunk_size), out_dir, fmt)


def write_cohort_chunks(chunks: Iterable[dict[str, list[list[str]]]], out_dir: Path, fmt: str) -> list[Path]:
    """Write chunks as they come: CSV appends, Parquet adds one row group per chunk."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {table: out_dir / f"{table}.{fmt}" for table in RAW_COLUMNS}
    with ExitStack() as stack:
        writers: dict[str, Any] = {}
        for table, columns in RAW_COLUMNS.items():
            if fmt == "csv":
                fh = stack.enter_context(paths[table].open("w", newline="", encoding="utf-8"))
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(columns)
                writers[table] = writer
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                schema = pa.schema([(c, pa.string()) for c in columns])
                writers[table] = stack.enter_context(pq.ParquetWriter(paths[table], schema))
        for chunk in chunks:
            for table, columns in RAW_COLUMNS.items():
                rows = chunk[table]
                if fmt == "csv":
                    writers[table].writerows(rows)
                elif rows:
                    import pyarrow as pa

                    arrays = [pa.array([r[i] for r in rows], pa.string()) for i in range(len(columns))]
                    writers[table].write_table(pa.Table.from_arrays(arrays, names=list(columns)))
    return [paths[table] for table in RAW_COLUMNS]


def write_lab_extract(raw_dir: Path, fraction: float = 0.01, seed: int = 1, name: str | None = None) -> Path:
    """Append a SYNTHETIC lab extract to a cohort folder: `lab_results_<name>.<fmt>` holding repeat
    draws for about `fraction` of the existing lab rows (same patient and test, 1-3 days later,
    value within +-5%, new result_ids). Such a file is what an incremental build processes.
    Streams through DuckDB, so the size of the cohort does not matter."""
    import duckdb

    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    sources = sorted(p for p in raw_dir.glob("lab_results.*") if p.suffix in (".csv", ".parquet"))
    if len(sources) != 1:
        raise FileNotFoundError(f"expected one lab_results.csv or lab_results.parquet in {raw_dir}")
    source = sources[0]
    fmt = source.suffix.lstrip(".")
    out = raw_dir / f"lab_results_{name or f'extract{seed}'}.{fmt}"
    if out.exists():
        raise FileExistsError(f"{out} exists: extracts are append-only, pick another name or seed")
    read = (f"read_parquet('{source}')" if fmt == "parquet"
            else f"read_csv('{source}', header = true, all_varchar = true, auto_detect = false, "
                 f"columns = {{'result_id': 'VARCHAR', 'patient_id': 'VARCHAR', 'collected_on': 'VARCHAR', "
                 f"'test_code': 'VARCHAR', 'value': 'VARCHAR', 'unit': 'VARCHAR'}})")
    # deterministic per (row, seed): the same call writes the same file
    query = f"""
        select
            'X{seed}-' || result_id as result_id,
            patient_id,
            coalesce(strftime(try_cast(collected_on as date) + cast(1 + hash(result_id || 'd{seed}') % 3 as integer),
                              '%Y-%m-%d'), collected_on) as collected_on,
            test_code,
            coalesce(cast(round(try_cast(value as double)
                                * (0.95 + (hash(result_id || 'v{seed}') % 1001) / 10000.0), 2) as varchar), value) as value,
            unit
        from {read}
        where hash(result_id || 's{seed}') % 1000000 < {int(round(fraction * 1_000_000))}
        order by result_id
    """
    options = "(format parquet)" if fmt == "parquet" else "(format csv, header true)"
    with duckdb.connect() as con:
        con.execute(f"copy ({query}) to '{out}' {options}")
    return out
