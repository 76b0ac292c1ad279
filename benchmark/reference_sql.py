"""The core job as one plain DuckDB SQL script: what a user would write instead of the warehouse.

    python -m benchmark.reference_sql RAW_DIR OUT_DIR

Reads the raw files once (CSV or Parquet, lab extracts included), maps test codes and units
with the project's reference seeds (the visit windows: the default
study's var visit_schedule in dbt_project.yml), keeps plausible numeric values (a "<" value keeps its
bound), windows them around day 0 (the first sirolimus dose), takes the baseline, applies the
IWG response rule with the default vars (bleeding grade from the visit assessment of the same
window) and writes three Parquet files to OUT_DIR: platelet_response, response_rates and
lab_changes, in the columns of the marts they stand for (benchmark/references.py compares
them). No quarantine, contracts, tests, incremental loads or delivery gate: only the job.
It does not handle duplicates, overlapping dose periods, rescue therapy or unusable bleeding
grades, which the synthetic cohorts it is checked on do not contain.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from benchmark.references import visit_windows

REFERENCE = Path(__file__).resolve().parents[1] / "seeds" / "reference"


def _read(raw_dir: Path, table: str) -> str:
    parquet = sorted(raw_dir.glob(f"{table}*.parquet"))
    if parquet:
        return f"read_parquet({[str(p) for p in parquet]!r}, union_by_name = true)"
    csv = sorted(raw_dir.glob(f"{table}*.csv"))
    return f"read_csv({[str(p) for p in csv]!r}, header = true, all_varchar = true, union_by_name = true)"


def script(raw_dir: Path, out_dir: Path) -> str:
    seeds = {name: f"read_csv('{REFERENCE / name}.csv', header = true)" for name in ("lab_test_map", "analytes")}
    windows = ", ".join(
        f"('{w.visit}', {w.visit_order}, {w.target_day}, {w.window_start_day}, {w.window_end_day})"
        for w in visit_windows().itertuples()
    )
    return f"""
create temp table windows as select * from (values {windows})
    as t(visit, visit_order, target_day, window_start_day, window_end_day);
create temp table analytes as select * from {seeds["analytes"]};
create temp table day0 as
    select cast(patient_id as varchar) as patient_id, min(cast(started_on as date)) as index_date
    from {_read(raw_dir, "drug_exposures")}
    where drug = 'sirolimus' and patient_id in (select cast(patient_id as varchar) from {_read(raw_dir, "patients")})
    group by 1;
create temp table labs as
with raw as (
    select cast(result_id as varchar) as result_id, cast(patient_id as varchar) as patient_id,
           try_cast(collected_on as date) as collected_on, upper(trim(test_code)) as code, trim(unit) as unit,
           trim(cast(value as varchar)) as value_text
    from {_read(raw_dir, "lab_results")}
),
mapped as (
    select raw.result_id, raw.patient_id, raw.collected_on, map.analyte, map.factor,
           try_cast(ltrim(raw.value_text, '<>') as double) as source_value, raw.value_text like '<%' as is_censored
    from raw
    join (select distinct upper(source_code) as code, source_unit as unit, analyte, cast(factor as double) as factor
          from {seeds["lab_test_map"]}) as map
        on raw.code = map.code and raw.unit = map.unit
)
select mapped.result_id, mapped.patient_id, mapped.analyte, mapped.source_value * mapped.factor as value,
       mapped.is_censored, mapped.collected_on, date_diff('day', day0.index_date, mapped.collected_on) as study_day
from mapped
join analytes using (analyte)
join day0 using (patient_id)
where mapped.source_value is not null and mapped.collected_on is not null
    and mapped.source_value * mapped.factor between analytes.plausible_low and analytes.plausible_high
    and not (mapped.factor = 0.001 and mapped.source_value < 1000);
create temp table visit_values as
select * from (
    select labs.*, windows.visit, windows.visit_order, windows.target_day,
           row_number() over (partition by labs.patient_id, labs.analyte, windows.visit
                              order by abs(labs.study_day - windows.target_day), labs.study_day desc, labs.result_id desc) as rank
    from labs join windows on labs.study_day between windows.window_start_day and windows.window_end_day
) where rank = 1;
create temp table assessments as
select * from (
    select cast(a.patient_id as varchar) as patient_id, try_cast(a.who_bleeding_grade as integer) as grade,
           cast(a.assessed_on as date) as assessed_on, windows.visit,
           row_number() over (partition by a.patient_id, windows.visit
                              order by abs(date_diff('day', day0.index_date, cast(a.assessed_on as date)) - windows.target_day),
                                       cast(a.assessed_on as date) desc) as rank
    from {_read(raw_dir, "visit_assessments")} as a
    join day0 on cast(a.patient_id as varchar) = day0.patient_id
    join windows on date_diff('day', day0.index_date, cast(a.assessed_on as date))
        between windows.window_start_day and windows.window_end_day
) where rank = 1;
create temp table platelet_response as
with grid as (
    select day0.patient_id, day0.index_date, windows.visit, windows.visit_order, windows.target_day
    from day0 cross join windows where windows.visit != 'baseline'
),
joined as (
    select grid.patient_id, grid.visit, grid.visit_order,
           date_diff('day', grid.index_date, coalesce(plt.collected_on, assessments.assessed_on,
                     grid.index_date + cast(grid.target_day as integer))) as study_day,
           plt.value as platelet_count, base.value as baseline_platelet_count, assessments.grade
    from grid
    left join (select * from visit_values where analyte = 'PLT' and study_day >= 1) as plt
        on plt.patient_id = grid.patient_id and plt.visit = grid.visit
    left join visit_values as base
        on base.patient_id = grid.patient_id and base.analyte = 'PLT' and base.visit = 'baseline'
    left join assessments on assessments.patient_id = grid.patient_id and assessments.visit = grid.visit
)
select patient_id, visit, visit_order, study_day, platelet_count, baseline_platelet_count,
       case
           when platelet_count is null or baseline_platelet_count is null then 'NE'
           when grade >= 2 then 'NR'
           when platelet_count >= 100 then 'CR'
           when platelet_count >= 30 and platelet_count >= 2 * baseline_platelet_count then 'PR'
           else 'NR'
       end as response
from joined;
copy (select patient_id, visit, study_day, platelet_count, baseline_platelet_count, response
      from platelet_response) to '{out_dir / "platelet_response.parquet"}' (format parquet);
copy (
    select visit, count(*) filter (where response != 'NE') as n_evaluable,
           count(*) filter (where response = 'CR') as n_cr, count(*) filter (where response = 'PR') as n_pr,
           count(*) filter (where response = 'NR') as n_nr, count(*) filter (where response = 'NE') as n_ne,
           count(*) filter (where response in ('CR', 'PR')) as n_responders,
           count(*) filter (where response in ('CR', 'PR')) / nullif(count(*) filter (where response != 'NE'), 0) as orr
    from platelet_response group by visit
) to '{out_dir / "response_rates.parquet"}' (format parquet);
copy (
    select f.patient_id, f.analyte, f.visit, f.study_day, b.value as baseline_value, f.value,
           f.value - b.value as change,
           case when b.value != 0 then 100.0 * (f.value - b.value) / abs(b.value) end as pct_change
    from visit_values as f
    left join visit_values as b on b.patient_id = f.patient_id and b.analyte = f.analyte and b.visit = 'baseline'
    where f.visit != 'baseline'
) to '{out_dir / "lab_changes.parquet"}' (format parquet);
"""


def run(raw_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(script(Path(raw_dir).resolve(), Path(out_dir).resolve()))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m benchmark.reference_sql RAW_DIR OUT_DIR")
    run(Path(sys.argv[1]), Path(sys.argv[2]))
