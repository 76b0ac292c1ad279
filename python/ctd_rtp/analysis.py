"""Statistics on the marts, written back to schema `analysis` (docs/clinical-rules.md).

Reads the marts through a Reader (DuckDB by default, Spark with CTD_RTP_ENGINE=spark), hands
data frames to `stats` (pure), stamps every result row with which data and which run produced
it, and writes the analysis tables back to the same engine (DuckDB: all in one transaction).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from . import stats
from .forked import Forked
from .study import Study
from .warehouse import DuckDBReader, Reader, Settings, reader_for

# The marts the statistics read; their content hash is the run's data fingerprint.
INPUT_MARTS = (
    "fct_lab_changes",
    "fct_visits",
    "rpt_response_rates",
    "fct_platelet_response",
    "dim_patients",
    "fct_time_to_event",
    "fct_patient_follow_up",
    "fct_patient_subgroups",
    "dim_study",
    "dim_visit_schedule",
)
# Long marts are read with only the (text and float) columns `compute` uses, text as
# categoricals: fct_lab_changes has ~60 rows per patient and 17 columns.
INPUT_COLUMNS = {"fct_lab_changes": ("patient_id", "analyte", "visit", "baseline_value", "value")}


@dataclass(frozen=True)
class Provenance:
    run_id: str
    computed_at: str
    data_fingerprint: str
    cohort: str

    def stamp(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out["cohort"] = self.cohort
        out["data_fingerprint"] = self.data_fingerprint
        out["run_id"] = self.run_id
        out["computed_at"] = self.computed_at
        return out


def marts_fingerprint(source: Reader | duckdb.DuckDBPyConnection) -> str:
    """Content hash of the marts the statistics read; stamped on every analysis row, so the
    report can tell statistics computed from other data (stale) from current ones. Each engine
    hashes its own tables (a DuckDB and a Spark fingerprint of the same data differ)."""
    reader = DuckDBReader(Path(), source) if isinstance(source, duckdb.DuckDBPyConnection) else source
    parts = "|".join(reader.table_fingerprint(name, "marts") for name in INPUT_MARTS)
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def subgroup_response(responses: pd.DataFrame, subgroups: pd.DataFrame, study: Study) -> pd.DataFrame:
    """stats.subgroup_response for each subgroup definition of the study (var response_subgroups),
    one block of rows per subgroup, levels from marts.fct_patient_subgroups."""
    blocks = []
    for definition in study.subgroups:
        levels = subgroups.loc[
            subgroups["subgroup"].astype(str) == str(definition["name"]), ["patient_id", "subgroup_level"]
        ]
        block = stats.subgroup_response(
            responses, levels.astype({"subgroup_level": object}), group_column="subgroup_level"
        )
        block.insert(0, "subgroup_label", str(definition.get("label") or definition["name"]))
        block.insert(0, "subgroup", str(definition["name"]))
        blocks.append(block)
    columns = ["subgroup", "subgroup_label", *stats.SUBGROUP_COLUMNS]
    return pd.concat(blocks, ignore_index=True)[columns] if blocks else pd.DataFrame(columns=columns)


def compute(marts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """All analysis tables from the mart frames (no I/O). The paired tests (the largest part:
    every lab change of every patient) run in a forked child process while this one computes the
    rest (:mod:`ctd_rtp.forked`); their result and errors are the same as in-process."""
    study = Study.from_frames(marts["dim_study"], marts["dim_visit_schedule"])
    paired = Forked("paired-tests", _paired_tests, marts["fct_lab_changes"], study.comparison_visits)
    try:
        tte = marts["fct_time_to_event"]
        km, km_timepoints = stats.kaplan_meier(tte)
        rest = {
            "response_rate_ci": stats.response_rate_ci(marts["rpt_response_rates"].sort_values("visit_order")),
            "friedman_tests": stats.friedman_test(
                marts["fct_visits"], visits=tuple(v.visit for v in study.visits), measure="platelet_count"
            ),
            "subgroup_response": subgroup_response(
                marts["fct_platelet_response"], marts["fct_patient_subgroups"], study
            ),
            "time_to_event_km": km,
            "time_to_event_km_timepoints": km_timepoints,
            "time_to_event_km_curve": stats.kaplan_meier_curve(tte),
            "time_in_response": stats.time_in_response(marts["fct_patient_follow_up"], tte),
            "steroid_sparing": stats.steroid_sparing(marts["fct_visits"]),
        }
    except BaseException:
        paired.cancel()
        raise
    return {"paired_tests": paired.result(), **rest}


def _paired_tests(lab_changes: pd.DataFrame, comparisons: Sequence[str]) -> pd.DataFrame:
    """stats.paired_tests of the analytes measured at baseline (drug troughs have none)."""
    changes = lab_changes[["patient_id", "analyte", "visit", "baseline_value", "value"]]
    with_baseline = changes["baseline_value"].notna().groupby(changes["analyte"]).transform("any")
    return stats.paired_tests(changes[with_baseline.to_numpy(dtype=bool)], comparisons)


def read_input_marts(reader: Reader) -> dict[str, pd.DataFrame]:
    """The marts `compute` needs, from any engine: `compute(read_input_marts(reader_for(settings)))`
    computes the statistics from Spark with CTD_RTP_ENGINE=spark (nothing is written)."""
    return {
        name: reader.read_mart(name, columns=INPUT_COLUMNS[name], categorical=True)
        if name in INPUT_COLUMNS
        else reader.read_mart(name)
        for name in INPUT_MARTS
    }


def run_analysis(
    settings: Settings, reader: Reader | None = None, min_cell_count: int = 0, listing_max_patients: int | None = None
) -> dict[str, pd.DataFrame]:
    """Read the marts, compute, write `analysis.*` to the same engine. Returns what was written.

    The reader defaults to the engine settings.engine names (DuckDB: `settings.db_path`)."""
    reader = reader or reader_for(settings)
    with reader.snapshot() as current:
        marts = read_input_marts(current)
        fingerprint = marts_fingerprint(current)
    cohort = str(marts["dim_patients"]["cohort"].iloc[0]) if len(marts["dim_patients"]) else "empty cohort"
    provenance = Provenance(
        run_id=uuid.uuid4().hex[:12],
        computed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        data_fingerprint=fingerprint,
        cohort=cohort,
    )
    tables = {name: provenance.stamp(frame) for name, frame in compute(marts).items()}
    reader.write_tables("analysis", tables)
    # The report's results table, from the tables just written read back as the report reads
    # them (same types and row order), so that the report prints exactly these cells.
    from .report.context import RESULT_INPUTS, RESULTS, build_results
    from .report.loading import read_tables

    with reader.snapshot() as current:
        listing = {} if listing_max_patients is None else {"listing_max_patients": listing_max_patients}
        results = provenance.stamp(build_results(read_tables(current, RESULT_INPUTS), min_cell_count, **listing))
    reader.write_tables("analysis", {RESULTS.split(".")[1]: results})
    return {**tables, RESULTS.split(".")[1]: results}
