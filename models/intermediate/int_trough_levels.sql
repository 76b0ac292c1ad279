{#- One row per clean trough level of the index drug (var trough_analyte) of a patient with a day 0: the exposure period it
    falls in (null = off treatment), that period's daily dose and whether the level is in the
    target range (the analyte's reference range, one place: the analytes seed). The exposure
    card, the trough figure and fct_visits all count these rows. -#}
with

troughs as (

    select * from {{ ref('int_lab_results_windowed') }}
    where analyte = {{ trough_analyte() }}

),

exposures as (

    select * from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null and drug = {{ index_drug() }}

),

trough_target as (

    select
        reference_low,
        reference_high
    from {{ ref('analytes') }}
    where analyte = {{ trough_analyte() }}

),

with_exposure as (

    select
        troughs.patient_id,
        troughs.result_id,
        troughs.collected_on,
        troughs.study_day,
        troughs.visit,
        troughs.is_visit_value,
        troughs.value as trough,
        exposures.exposure_id,
        exposures.daily_dose_mg,
        -- overlapping periods are quarantined (checked_rows), so at most one matches; the
        -- ranking only makes that explicit
        row_number() over (
            partition by troughs.result_id order by exposures.started_on desc, exposures.exposure_id asc
        ) as period_rank
    from troughs
    left join exposures
        on troughs.patient_id = exposures.patient_id
            and troughs.collected_on >= exposures.started_on
            and (exposures.ended_on is null or troughs.collected_on <= exposures.ended_on)

),

final as (

    select
        with_exposure.patient_id,
        with_exposure.result_id,
        with_exposure.collected_on,
        with_exposure.study_day,
        with_exposure.visit,
        with_exposure.is_visit_value,
        with_exposure.trough,
        with_exposure.exposure_id,
        with_exposure.daily_dose_mg,
        with_exposure.exposure_id is not null as is_on_treatment,
        with_exposure.trough between trough_target.reference_low and trough_target.reference_high as is_in_target,
        trough_target.reference_low as target_low,
        trough_target.reference_high as target_high
    from with_exposure
    cross join trough_target
    where with_exposure.period_rank = 1

)

select * from final
