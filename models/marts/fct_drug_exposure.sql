with

exposures as (

    select * from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

troughs as (

    select * from {{ ref('int_trough_levels') }}
    where is_on_treatment

),

trough_summary as (

    select
        exposure_id,
        cast(count(*) as integer) as n_troughs,
        avg(trough) as mean_trough,
        cast(sum(case when is_in_target then 1 else 0 end) as integer) as n_troughs_in_target
    from troughs
    group by exposure_id

),

final as (

    select
        exposures.exposure_id,
        exposures.patient_id,
        exposures.drug,
        exposures.started_on,
        exposures.ended_on,
        exposures.is_ongoing,
        exposures.daily_dose_mg,
        {{ dbt.datediff('patient_index.index_date', 'exposures.started_on', 'day') }} as start_study_day,
        {{ dbt.datediff('patient_index.index_date', 'exposures.ended_on', 'day') }} as end_study_day,
        {{ dbt.datediff('exposures.started_on', 'exposures.ended_on', 'day') }} + 1 as exposure_days,
        ({{ dbt.datediff('exposures.started_on', 'exposures.ended_on', 'day') }} + 1) * exposures.daily_dose_mg
            as cumulative_dose_mg,
        trough_summary.n_troughs,
        trough_summary.mean_trough,
        trough_summary.n_troughs_in_target,
        cast(trough_summary.n_troughs_in_target as double) / nullif(trough_summary.n_troughs, 0)
            as fraction_troughs_in_target,
        {{ cohort_label() }} as cohort
    from exposures
    left join patient_index
        on exposures.patient_id = patient_index.patient_id
    left join trough_summary
        on exposures.exposure_id = trough_summary.exposure_id

)

select * from final
