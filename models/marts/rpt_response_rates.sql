with

responses as (

    select * from {{ ref('fct_platelet_response') }}

),

counted as (

    select
        visit,
        visit_order,
        cast(count(*) as integer) as n_patients,
        cast(sum(case when response = 'CR' then 1 else 0 end) as integer) as n_cr,
        cast(sum(case when response = 'PR' then 1 else 0 end) as integer) as n_pr,
        cast(sum(case when response = 'NR' then 1 else 0 end) as integer) as n_nr,
        cast(sum(case when response = 'NE' then 1 else 0 end) as integer) as n_ne
    from responses
    group by visit, visit_order

),

final as (

    select
        visit,
        visit_order,
        n_patients,
        n_cr + n_pr + n_nr as n_evaluable,
        n_cr,
        n_pr,
        n_nr,
        n_ne,
        n_cr + n_pr as n_responders,
        cast(n_cr + n_pr as double) / nullif(n_cr + n_pr + n_nr, 0) as orr,
        cast(n_cr + n_pr as double) / nullif(n_patients, 0) as orr_all_patients,
        'evaluable patients (CR + PR + NR; NE excluded)' as orr_denominator,
        {{ platelet_response_rule_text() }} as response_rule,
        {{ cohort_label() }} as cohort
    from counted

)

select * from final
