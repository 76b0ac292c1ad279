{#- The safety table in journal format: one row per preferred term of the treatment-emergent
    adverse events (onset on or after day 0, fct_adverse_events.is_treatment_emergent), plus one
    "any adverse event" row. Patients count once per row, in the column of the worst CTCAE grade
    they had for it; serious and related: patients with at least one such event. Exposure: the
    index drug's patient-months (fct_drug_exposure.exposure_days in months, as exposure_months), null when any period has no
    end and there is no data cut-off (a rate over a partial total would be too high). -#}
with

events as (

    select
        patient_id,
        coalesce(term, 'term not recorded') as term,
        ctcae_grade,
        is_serious,
        is_related_to_study_drug,
        is_treatment_emergent
    from {{ ref('fct_adverse_events') }}

),

index_drug_exposure as (

    select
        patient_id,
        exposure_days
    from {{ ref('fct_drug_exposure') }}
    where drug = {{ index_drug() }}

),

exposure as (

    select
        cast(count(distinct patient_id) as integer) as n_analysis_set,
        -- summed in days (exact on every engine), then months by the one macro
        {{ days_to_months('case when count(*) = count(exposure_days) then sum(exposure_days) end') }}
            as exposure_patient_months
    from index_drug_exposure

),

patient_terms as (

    -- one row per patient x term: the worst grade and whether any event was serious or related
    select
        term,
        patient_id,
        max(ctcae_grade) as worst_grade,
        max(case when is_serious then 1 else 0 end) as has_serious,
        max(case when is_related_to_study_drug then 1 else 0 end) as has_related,
        count(*) as n_events
    from events
    where is_treatment_emergent
    group by term, patient_id

),

patients_any as (

    select
        patient_id,
        max(worst_grade) as worst_grade,
        max(has_serious) as has_serious,
        max(has_related) as has_related,
        sum(n_events) as n_events
    from patient_terms
    group by patient_id

),

recorded as (

    select
        term,
        count(*) as n_events_recorded
    from events
    group by term

),

by_term as (

    select
        'preferred term' as row_type,
        patient_terms.term,
        count(*) as n_patients_any_grade,
        sum(case when patient_terms.worst_grade = 1 then 1 else 0 end) as n_patients_grade_1,
        sum(case when patient_terms.worst_grade = 2 then 1 else 0 end) as n_patients_grade_2,
        sum(case when patient_terms.worst_grade = 3 then 1 else 0 end) as n_patients_grade_3,
        sum(case when patient_terms.worst_grade >= 3 then 1 else 0 end) as n_patients_grade_3_plus,
        sum(patient_terms.has_serious) as n_patients_serious,
        sum(patient_terms.has_related) as n_patients_related,
        sum(patient_terms.n_events) as n_events
    from patient_terms
    group by patient_terms.term

),

any_event as (

    -- an aggregate without group by: one row even when there is no event
    select
        'any adverse event' as row_type,
        'Any adverse event' as term,
        count(*) as n_patients_any_grade,
        coalesce(sum(case when worst_grade = 1 then 1 else 0 end), 0) as n_patients_grade_1,
        coalesce(sum(case when worst_grade = 2 then 1 else 0 end), 0) as n_patients_grade_2,
        coalesce(sum(case when worst_grade = 3 then 1 else 0 end), 0) as n_patients_grade_3,
        coalesce(sum(case when worst_grade >= 3 then 1 else 0 end), 0) as n_patients_grade_3_plus,
        coalesce(sum(has_serious), 0) as n_patients_serious,
        coalesce(sum(has_related), 0) as n_patients_related,
        coalesce(sum(n_events), 0) as n_events
    from patients_any

),

ordered as (

    -- most patients first, then most with grade >= 3, then the term alphabetically
    select
        by_term.*,
        recorded.n_events_recorded,
        row_number() over (
            order by
                by_term.n_patients_any_grade desc,
                by_term.n_patients_grade_3_plus desc,
                lower(by_term.term) asc,
                by_term.term asc
        ) as term_order
    from by_term
    inner join recorded on by_term.term = recorded.term

    union all

    select
        any_event.*,
        (select count(*) from events) as n_events_recorded,
        0 as term_order
    from any_event

),

final as (

    select
        ordered.row_type,
        ordered.term,
        cast(ordered.term_order as integer) as term_order,
        exposure.n_analysis_set,
        cast(ordered.n_patients_any_grade as integer) as n_patients_any_grade,
        cast(ordered.n_patients_grade_1 as integer) as n_patients_grade_1,
        cast(ordered.n_patients_grade_2 as integer) as n_patients_grade_2,
        cast(ordered.n_patients_grade_3 as integer) as n_patients_grade_3,
        cast(ordered.n_patients_grade_3_plus as integer) as n_patients_grade_3_plus,
        cast(ordered.n_patients_serious as integer) as n_patients_serious,
        cast(ordered.n_patients_related as integer) as n_patients_related,
        cast(ordered.n_events as integer) as n_events,
        cast(ordered.n_events_recorded as integer) as n_events_recorded,
        exposure.exposure_patient_months,
        cast(100 * ordered.n_patients_any_grade as double) / nullif(exposure.exposure_patient_months, 0)
            as patients_per_100_patient_months,
        {{ cohort_label() }} as cohort
    from ordered
    cross join exposure

)

select * from final
