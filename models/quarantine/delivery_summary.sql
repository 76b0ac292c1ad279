{#- One row per raw table: what the delivery held and how much of it was held back. The delivery
    gate reads it (tests/singular/assert_delivery_quarantine_within_threshold.sql, and
    python/ctd_rtp/gate.py before `ctd-rtp build` publishes): a share above var
    max_quarantined_share is a systematic problem with the delivery, not a few bad lines. -#}
{%- set tables = checked_raw_tables() -%}
with

{% for table, model, key in tables %}
    {{ table }}_rows as (

        -- every raw row is in its checked model, clean or not (assert_raw_rows_reconcile)
        select
            '{{ table }}' as source_table,
            {{ loop.index }} as table_order,
            count(*) as rows_delivered,
            sum(case when rejection_reason is null then 1 else 0 end) as rows_clean
        from {{ ref(model) }}

    ),

{% endfor %}
delivered as (

    {% for table, model, key in tables %}
        select * from {{ table }}_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

reasons as (

    select
        source_table,
        rejection_reason,
        count(*) as n_rows
    from {{ ref('quarantined_rows') }}
    group by source_table, rejection_reason

    union all

    -- a nulled field counts too: a systematic format problem in one column (a decimal comma
    -- in every dose) is a bad delivery even though each row goes on without that field
    select
        source_table,
        concat(rejection_reason, ' (field nulled)') as rejection_reason,
        count(*) as n_rows
    from {{ ref('quarantined_fields') }}
    where row_rejection_reason is null
    group by source_table, rejection_reason

),

field_rows as (

    select
        source_table,
        count(distinct row_key) as rows_with_quarantined_fields
    from {{ ref('quarantined_fields') }}
    where row_rejection_reason is null  -- a quarantined row counts once, in quarantined_rows
    group by source_table

),

quarantined_rows as (

    select
        source_table,
        count(*) as rows_quarantined
    from {{ ref('quarantined_rows') }}
    group by source_table

),

ranked as (

    select
        source_table,
        n_rows,
        concat(cast(n_rows as {{ text_type() }}), ' x ', rejection_reason) as reason_text,
        row_number() over (partition by source_table order by n_rows desc, rejection_reason asc) as reason_rank
    from reasons

),

quarantined as (

    select
        source_table,
        count(*) as n_reasons,
        -- the 3 most frequent; concat_ws skips nulls, so fewer reasons leave no empty slot
        concat_ws(
            '; ',
            max(case when reason_rank = 1 then reason_text end),
            max(case when reason_rank = 2 then reason_text end),
            max(case when reason_rank = 3 then reason_text end)
        ) as top_reasons
    from ranked
    group by source_table

),

counted as (

    select
        delivered.source_table,
        delivered.table_order,
        cast(delivered.rows_delivered as bigint) as rows_delivered,
        cast(coalesce(delivered.rows_clean, 0) as bigint) as rows_clean,
        cast(coalesce(quarantined_rows.rows_quarantined, 0) as bigint) as rows_quarantined,
        cast(coalesce(field_rows.rows_with_quarantined_fields, 0) as bigint) as rows_with_quarantined_fields,
        cast(coalesce(quarantined.n_reasons, 0) as bigint) as n_reasons,
        quarantined.top_reasons
    from delivered
    left join quarantined_rows
        on delivered.source_table = quarantined_rows.source_table
    left join field_rows
        on delivered.source_table = field_rows.source_table
    left join quarantined
        on delivered.source_table = quarantined.source_table

),

final as (

    select
        source_table,
        table_order,
        rows_delivered,
        rows_clean,
        rows_quarantined,
        rows_with_quarantined_fields,
        -- rows held back whole or in part
        coalesce(
            cast(rows_quarantined + rows_with_quarantined_fields as double) / nullif(rows_delivered, 0), 0.0
        ) as quarantined_share,
        cast({{ var('max_quarantined_share') }} as double) as max_quarantined_share,
        n_reasons,
        top_reasons
    from counted

)

select * from final
