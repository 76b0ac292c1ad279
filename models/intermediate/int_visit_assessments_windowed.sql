{#- The clinical assessment that represents each patient x visit (same window rule as labs),
    and what it says about bleeding. Quarantined assessments with a readable date compete for
    the window too: when the one that would represent the visit is quarantined (a conflicting
    duplicate, ...) or its grade was nulled (quarantine.quarantined_fields), the visit's
    bleeding evidence is 'unusable', never "no bleeding". Exact duplicate copies do not compete
    (their kept copy does). -#}
with

assessments as (

    select * from {{ ref('int_visit_assessments_checked') }}
    where assessed_on is not null
        and (rejection_reason is null or rejection_reason not like 'exact duplicate%')

),

{{ visit_windowed('assessments', 'assessed_on', ['patient_id'], 'assessed_on',
    extra_order="-- a quarantined twin of the chosen date wins the tie: its evidence is lost
                case when with_study_day.rejection_reason is null then 1 else 0 end") }},

final as (

    select
        patient_id,
        visit,
        assessed_on,
        study_day,
        case when rejection_reason is null then who_bleeding_grade end as who_bleeding_grade,
        case when rejection_reason is null then prednisone_equivalent_mg_day end as prednisone_equivalent_mg_day,
        case when rejection_reason is null then rescue_therapy end as rescue_therapy,
        case
            when rejection_reason is not null or who_bleeding_grade_issue is not null then 'unusable'
            when who_bleeding_grade is null then 'not recorded'
            else 'recorded'
        end as bleeding_evidence,
        coalesce(rejection_reason, who_bleeding_grade_issue) as bleeding_evidence_issue
    from windowed
    where rank_in_window = 1

)

select * from final
