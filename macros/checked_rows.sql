{#- Adds `rejection_reason` to a staged table: the row's own issue from staging, else the
    first cross-table rule it breaks (duplicate key, missing/unknown/quarantined patient,
    impossible date, overlapping period). Null = clean. Rows with a reason go to the
    quarantine, never silently away. The reason texts are listed in docs/data-rejection.md.

    period (optional): {'start': col, 'end': col, 'partition_by': [cols], 'reason': text}.
    Periods are inclusive of both ends, a null end = ongoing. A period that starts on or before
    the end of an earlier clean period of the same partition (ordered by start, then key) is
    rejected with `reason`; the earliest period is kept, so day 0 never moves.

    stamp: add `load_batch`, when this run processed the row (incremental models,
    macros/incremental_labs.sql).

    content_columns: every staged column but the key and provenance (source_file). Rows sharing a
    key and equal in all of them (nulls equal) are one result delivered twice: the first copy
    (earliest `order_copies_by`, e.g. source_file) is kept, the others are `exact duplicate`.
    A key shared by rows that differ anywhere is a conflict: all of them are `duplicate key (...)`.
    The comparison is on the staged values (trimmed, typed): `2023-05-01` and `2023/05/01`, or
    `1` and `1.0`, are the same result written twice, and the values the marts would use are
    the values compared. The list is explicit (dbt unit tests cannot introspect a relation);
    when `staged` is a relation the build checks that the list misses no staged column. -#}
{% macro checked_rows(
    staged, key_columns, content_columns, date_column=none, check_patient=true, period=none, stamp=false,
    order_copies_by=none
) -%}
{%- if execute and staged is not string -%}
    {%- set known = key_columns + content_columns + ['source_file'] -%}
    {%- set missing = [] -%}
    {%- for column in adapter.get_columns_in_relation(staged) -%}
        {%- if column.name | lower not in known -%}{%- do missing.append(column.name | lower) -%}{%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error("checked_rows(" ~ staged ~ "): content_columns lacks " ~ missing | join(', ')
            ~ ": list every staged column, or rows differing only there would pass for exact duplicates") }}
    {%- endif -%}
{%- endif -%}
{%- set copy_partition = (key_columns + content_columns) | join(', ') -%}
{%- set key_present = key_columns | join(' is not null and ') ~ ' is not null' -%}
{%- set key_match = [] -%}
{%- for column in key_columns -%}
    {%- do key_match.append('repeated_keys.' ~ column ~ ' = staged.' ~ column) -%}
{%- endfor -%}
{%- set key_match = key_match | join(' and ') -%}
with

staged as (

    select * from {{ staged }}

),

patients as (

    select
        patient_id,
        min(birth_year) as birth_year
    from {{ ref('stg_patients') }}
    where row_issue is null
    group by patient_id

),

-- every patient row, clean or not: a row of a quarantined patient says so (not "unknown patient")
patients_delivered as (

    select distinct patient_id
    from {{ ref('stg_patients') }}
    where patient_id is not null

),

-- the keys on more than one row: only their rows can be duplicates, so only they go through the
-- windows below (one hash aggregate of the key instead of two windows over every row: at
-- 100,000 patients the lab table's windows partitioned 13M rows by all their columns)
repeated_keys as (

    select {{ key_columns | join(', ') }}
    from staged
    where {{ key_present }}
    group by {{ key_columns | join(', ') }}
    having count(*) > 1

),

copies as (

    -- a key on one row (nearly every row): it is its own only copy. A row without its key is
    -- rejected by staging already; leaving its count null keeps the count of a row independent
    -- of unrelated rows (incremental runs see only some)
    select
        staged.*,
        case when {{ key_present }} then cast(1 as bigint) end as rows_with_key,
        cast(1 as bigint) as identical_rows,
        cast(1 as bigint) as copy_number
    from staged
    where not exists (select 1 from repeated_keys where {{ key_match }})

    union all

    select
        staged.*,
        count(*) over (partition by {{ key_columns | join(', ') }}) as rows_with_key,
        count(*) over (partition by {{ copy_partition }}) as identical_rows,
        row_number() over (
            partition by {{ copy_partition }}
            order by {{ (([order_copies_by] if order_copies_by else []) + key_columns) | join(', ') }}
        ) as copy_number
    from staged
    where exists (select 1 from repeated_keys where {{ key_match }})

),

keyed as (

    select
        {{ star_except('copies', ['identical_rows', 'copy_number']) }},
        case
            when copies.rows_with_key > copies.identical_rows
                then 'duplicate key ({{ key_columns | join(", ") }})'
            when copies.rows_with_key > 1 and copies.copy_number > 1 then 'exact duplicate'
        end as key_issue
    from copies

),

{%- if period %}

periods as (

    select
        keyed.*,
        -- latest end among the earlier periods that are clean so far (null end = ongoing)
        max(
            case
                when keyed.row_issue is null and keyed.key_issue is null
                    then coalesce(keyed.{{ period['end'] }}, cast('9999-12-31' as date))
            end
        ) over (
            partition by {{ period['partition_by'] | join(', ') }}
            order by keyed.{{ period['start'] }}, {{ key_columns | join(', ') }}
            rows between unbounded preceding and 1 preceding
        ) as earlier_period_end
    from keyed

),

{%- endif %}

final as (

    select
        {{ star_except('checked', ['earlier_period_end', 'key_issue'] if period else ['key_issue']) }},
        case
            when checked.row_issue is not null then checked.row_issue
            when checked.key_issue is not null then checked.key_issue
            {%- if check_patient %}
            when checked.patient_id is null then 'missing patient_id'
            when patients.patient_id is null
                and checked.patient_id in (select patients_delivered.patient_id from patients_delivered)
                then 'patient quarantined'
            when patients.patient_id is null then 'unknown patient'
            {%- endif %}
            {%- if date_column %}
            when checked.{{ date_column }} > current_date then 'date in the future'
            when extract(year from checked.{{ date_column }}) < patients.birth_year then 'date before birth'
            when checked.{{ date_column }} < cast('{{ var("study_earliest_date") }}' as date)
                then 'date before study period'
            {%- endif %}
            {%- if period %}
            when checked.earlier_period_end >= checked.{{ period['start'] }} then '{{ period["reason"] }}'
            {%- endif %}
        end as rejection_reason{{ ',' if stamp }}
        {%- if stamp %}
        {{ load_batch_stamp() }} as load_batch
        {%- endif %}
    from {{ 'periods' if period else 'keyed' }} as checked
    left join patients
        on checked.patient_id = patients.patient_id

)

select * from final
{%- endmacro %}

{#- The five raw tables with their checked model and the key each shows in the quarantine
    (quarantine.quarantined_rows.row_key): one list for the quarantine models and the
    reconciliation test. -#}
{% macro checked_raw_tables() -%}
    {{ return([
        ('patients', 'int_patients_checked', 'patient_id'),
        ('drug_exposures', 'int_drug_exposures_checked', 'exposure_id'),
        ('lab_results', 'int_lab_results_checked', 'result_id'),
        ('visit_assessments', 'int_visit_assessments_checked',
         "patient_id || '@' || coalesce(cast(assessed_on as " ~ text_type() ~ "), '?')"),
        ('adverse_events', 'int_adverse_events_checked', 'ae_id'),
    ]) }}
{%- endmacro %}
