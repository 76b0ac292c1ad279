{#- One row per patient x visit of the schedule (var visit_schedule) for every patient with
    a day 0, whether or not the visit happened: the platelet count, bleeding, steroid dose,
    index drug trough and dose that represent the visit. -#}
with

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

windows as (

    select * from {{ ref('int_visit_windows') }}

),

visit_labs as (

    select * from {{ ref('int_lab_results_windowed') }}
    where is_visit_value

),

assessments as (

    select * from {{ ref('int_visit_assessments_windowed') }}

),

undated_assessments as (

    -- quarantined assessments of a patient whose date cannot be read: they may belong to any
    -- visit, so a visit without another assessment has lost its evidence, not "no bleeding"
    select
        patient_id,
        min(rejection_reason) as rejection_reason
    from {{ ref('int_visit_assessments_checked') }}
    where assessed_on is null and patient_id is not null
    group by patient_id

),

index_drug as (

    select * from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null and drug = {{ index_drug() }}

),

grid as (

    select
        patient_index.patient_id,
        patient_index.index_date,
        windows.visit,
        windows.visit_order,
        windows.target_day
    from patient_index
    cross join windows

),

platelets as (

    select * from visit_labs
    where analyte = {{ response_analyte() }}

),

troughs as (

    select * from visit_labs
    where analyte = {{ trough_analyte() }}

),

joined as (

    select
        grid.patient_id,
        grid.visit,
        grid.visit_order,
        grid.target_day,
        grid.index_date,
        platelets.collected_on as platelet_collected_on,
        platelets.study_day as platelet_study_day,
        platelets.value as platelet_count,
        baseline_platelets.value as baseline_platelet_count,
        assessments.who_bleeding_grade,
        case
            when assessments.bleeding_evidence is not null then assessments.bleeding_evidence
            when undated_assessments.patient_id is not null then 'unusable'
            else 'not recorded'
        end as bleeding_evidence,
        case
            when assessments.bleeding_evidence is not null then assessments.bleeding_evidence_issue
            when undated_assessments.patient_id is not null
                then 'an assessment of this patient has no readable date: ' || undated_assessments.rejection_reason
        end as bleeding_evidence_issue,
        assessments.prednisone_equivalent_mg_day,
        assessments.rescue_therapy,
        troughs.value as index_drug_trough,
        coalesce(
            platelets.collected_on,
            assessments.assessed_on,
            {{ dbt.dateadd('day', 'grid.target_day', 'grid.index_date') }}
        ) as visit_date
    from grid
    left join platelets
        on grid.patient_id = platelets.patient_id and grid.visit = platelets.visit
    left join platelets as baseline_platelets
        on grid.patient_id = baseline_platelets.patient_id and baseline_platelets.visit = 'baseline'
    left join assessments
        on grid.patient_id = assessments.patient_id and grid.visit = assessments.visit
    left join undated_assessments
        on grid.patient_id = undated_assessments.patient_id
    left join troughs
        on grid.patient_id = troughs.patient_id and grid.visit = troughs.visit

),

with_dose as (

    select
        joined.*,
        index_drug.daily_dose_mg as index_drug_daily_dose_mg
    from joined
    left join index_drug
        on joined.patient_id = index_drug.patient_id
            and cast(joined.visit_date as date) >= index_drug.started_on
            and (index_drug.ended_on is null or cast(joined.visit_date as date) <= index_drug.ended_on)

),

final as (

    select
        patient_id,
        visit,
        visit_order,
        target_day,
        cast(visit_date as date) as visit_date,
        {{ dbt.datediff('index_date', 'cast(visit_date as date)', 'day') }} as study_day,
        platelet_collected_on,
        platelet_study_day,
        platelet_count,
        baseline_platelet_count,
        who_bleeding_grade,
        bleeding_evidence,
        bleeding_evidence_issue,
        prednisone_equivalent_mg_day,
        rescue_therapy,
        index_drug_trough,
        -- overlapping dose periods on one day: take the highest dose, never two rows
        max(index_drug_daily_dose_mg) as index_drug_daily_dose_mg
    from with_dose
    group by
        patient_id, visit, visit_order, target_day, visit_date, index_date, platelet_collected_on,
        platelet_study_day, platelet_count, baseline_platelet_count, who_bleeding_grade, bleeding_evidence,
        bleeding_evidence_issue, prednisone_equivalent_mg_day, rescue_therapy, index_drug_trough

)

select * from final
