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

cutoff as (

    select * from {{ ref('int_data_cutoff') }}

),

closed as (

    -- the data cut-off closes an ongoing exposure, and one that ends after it
    select
        exposures.*,
        case
            when cutoff.data_cutoff_date is null then exposures.ended_on
            when exposures.ended_on is null or exposures.ended_on > cutoff.data_cutoff_date
                then cutoff.data_cutoff_date
            else exposures.ended_on
        end as exposure_end_on,
        case
            when exposures.started_on > cutoff.data_cutoff_date then 'started after the data cut-off'
            when exposures.ended_on is null and cutoff.data_cutoff_date is null then 'ongoing, no data cut-off'
            when exposures.ended_on is null then 'ongoing: closed at the data cut-off'
            when exposures.ended_on > cutoff.data_cutoff_date then 'ends after the data cut-off: closed at it'
            else 'ended'
        end as exposure_end_basis
    from exposures
    cross join cutoff

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

{%- set exposure_days -%}
    case
        when exposures.exposure_end_on >= exposures.started_on
            then {{ dbt.datediff('exposures.started_on', 'exposures.exposure_end_on', 'day') }} + 1
    end
{%- endset %}

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
        exposures.exposure_end_on,
        exposures.exposure_end_basis,
        {{ exposure_days }} as exposure_days,
        {{ days_to_months(exposure_days) }} as exposure_months,
        case
            when exposures.exposure_end_on >= exposures.started_on
                then
                    ({{ dbt.datediff('exposures.started_on', 'exposures.exposure_end_on', 'day') }} + 1)
                    * exposures.daily_dose_mg
        end as cumulative_dose_mg,
        trough_summary.n_troughs,
        trough_summary.mean_trough,
        trough_summary.n_troughs_in_target,
        cast(trough_summary.n_troughs_in_target as double) / nullif(trough_summary.n_troughs, 0)
            as fraction_troughs_in_target,
        {{ cohort_label() }} as cohort
    from closed as exposures
    left join patient_index
        on exposures.patient_id = patient_index.patient_id
    left join trough_summary
        on exposures.exposure_id = trough_summary.exposure_id

)

select * from final
