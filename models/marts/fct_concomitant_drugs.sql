{#- One row per clean exposure to a drug other than the index drug: its class from
    seeds/reference/drug_classes.csv (`unclassified` when the seed does not know it), whether
    it is rescue therapy or another ITP-directed treatment, and whether it overlaps the
    follow-up (day 0 to the data cut-off). -#}
with

exposures as (

    select * from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null and drug != {{ index_drug() }}

),

drug_classes as (

    select * from {{ ref('drug_classes') }}

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

cutoff as (

    select * from {{ ref('int_data_cutoff') }}

),

final as (

    select
        exposures.exposure_id,
        exposures.patient_id,
        exposures.drug,
        coalesce(drug_classes.drug_class, 'unclassified') as drug_class,
        coalesce(drug_classes.drug_class = 'rescue', false) as is_rescue_therapy,
        coalesce(drug_classes.drug_class = 'itp treatment', false) as is_other_itp_treatment,
        exposures.started_on,
        exposures.ended_on,
        exposures.daily_dose_mg,
        {{ dbt.datediff('patient_index.index_date', 'exposures.started_on', 'day') }} as start_study_day,
        {{ dbt.datediff('patient_index.index_date', 'exposures.ended_on', 'day') }} as end_study_day,
        coalesce(
            exposures.started_on <= cutoff.data_cutoff_date
            and coalesce(exposures.ended_on, cutoff.data_cutoff_date) >= patient_index.index_date,
            false
        ) as overlaps_follow_up,
        {{ cohort_label() }} as cohort
    from exposures
    left join drug_classes
        on exposures.drug = drug_classes.drug
    left join patient_index
        on exposures.patient_id = patient_index.patient_id
    cross join cutoff

)

select * from final
