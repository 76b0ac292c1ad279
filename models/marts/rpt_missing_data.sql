{#- One row per analyte x visit measured in the cohort (STROBE item 14b): patients expected (the
    analysis set: patients with a day 0), with a value in the visit window, missing, and of the
    missing those with a quarantined result of the analyte collected in the window. An analyte
    nobody has at a visit is not expected there (not in the schedule) and has no row. -#}
with

patient_index as (

    select
        patient_id,
        index_date
    from {{ ref('int_patient_index') }}

),

windows as (

    select
        visit,
        visit_order,
        window_start_day,
        window_end_day
    from {{ ref('int_visit_windows') }}

),

present_patients as (

    select distinct
        analyte,
        visit,
        patient_id
    from {{ ref('int_lab_results_windowed') }}
    where is_visit_value and visit is not null

),

present as (

    -- counted from present_patients: one pass over the lab rows instead of two
    select
        analyte,
        visit,
        count(*) as n_present
    from present_patients
    group by analyte, visit

),

quarantined as (

    select
        checked.analyte,
        windows.visit,
        checked.patient_id
    from {{ ref('int_lab_results_checked') }} as checked
    inner join patient_index on checked.patient_id = patient_index.patient_id
    inner join windows
        on {{ dbt.datediff('patient_index.index_date', 'checked.collected_on', 'day') }}
            between windows.window_start_day and windows.window_end_day
    where checked.rejection_reason is not null and checked.analyte is not null

),

quarantined_missing as (

    select
        quarantined.analyte,
        quarantined.visit,
        count(distinct quarantined.patient_id) as n_quarantined
    from quarantined
    left join present_patients
        on quarantined.analyte = present_patients.analyte
            and quarantined.visit = present_patients.visit
            and quarantined.patient_id = present_patients.patient_id
    where present_patients.patient_id is null
    group by quarantined.analyte, quarantined.visit

),

expected as (

    select count(*) as n_expected from patient_index

),

final as (

    select
        present.analyte,
        present.visit,
        cast(windows.visit_order as integer) as visit_order,
        cast(expected.n_expected as integer) as n_expected,
        cast(present.n_present as integer) as n_present,
        cast(expected.n_expected - present.n_present as integer) as n_missing,
        cast(coalesce(quarantined_missing.n_quarantined, 0) as integer) as n_quarantined,
        {{ cohort_label() }} as cohort
    from present
    inner join windows on present.visit = windows.visit
    cross join expected
    left join quarantined_missing
        on present.analyte = quarantined_missing.analyte and present.visit = quarantined_missing.visit

)

select * from final
