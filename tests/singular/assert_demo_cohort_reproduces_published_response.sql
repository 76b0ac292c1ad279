{#- The bundled SYNTHETIC cohort is calibrated to the published figures (Li et al., Adv
    Dermatol Allergol 2025): month 3 = 1 CR + 7 PR of 13 (ORR 61.5%), month 6 = 10 of 13
    (ORR 76.9%). Computed from raw rows, so it checks the generator and the rule together.
    Only meaningful for the demo cohort under the published rule: skipped when CTD_RTP_RAW_DIR
    points at other data, or when --vars changes the response rule (a sensitivity analysis
    is meant to give other counts). -#}
{{ config(enabled=(env_var('CTD_RTP_RAW_DIR', '') == '' and published_response_rule_in_force())) }}

with

rates as (

    select * from {{ ref('rpt_response_rates') }}

),

expected as (

    select
        'month_3' as visit,
        1 as n_cr,
        7 as n_pr,
        8 as n_responders,
        13 as n_evaluable
    union all
    select
        'month_6' as visit,
        null as n_cr,
        null as n_pr,
        10 as n_responders,
        13 as n_evaluable

)

select
    expected.visit,
    rates.n_cr,
    rates.n_pr,
    rates.n_responders,
    rates.n_evaluable
from expected
left join rates
    on expected.visit = rates.visit
where rates.visit is null
    or (expected.n_cr is not null and rates.n_cr != expected.n_cr)
    or (expected.n_pr is not null and rates.n_pr != expected.n_pr)
    or rates.n_responders != expected.n_responders
    or rates.n_evaluable != expected.n_evaluable
