{#- Incremental lab models (docs/incremental-builds.md; their config: dbt_project.yml).

    Lab results arrive as append-only extract files (lab_results.csv, lab_results_<extract>.csv,
    ...; macros/raw_table.sql). Every row carries `source_file`, and `int_lab_results_checked`
    stamps the rows it (re)processes with `load_batch`, the start time of the dbt run.

    1. int_lab_results_checked processes the rows of files it has not seen, plus older rows
       sharing a result_id with them (a new row can make an old one a duplicate), and replaces
       those result_ids (delete+insert).
    2. Downstream lab models (int_lab_results_windowed, shown by the fct_lab_results view, and
       fct_lab_changes) keep
       `load_batch` too; their watermark is the newest load_batch they hold. A patient x analyte
       pair with a checked row stamped after the watermark is "touched": its rows are deleted
       (pre-hook) and rebuilt from the whole current history of the pair, so visit values,
       ranks and baselines come out as a full refresh would give them.
    Re-processing a pair twice gives the same rows, so a watermark that lags (a batch whose rows
    were all quarantined) costs time, never correctness.

    Anything else that changes (patients, drug exposures, reference seeds, vars, the SQL, or an
    extract file edited or removed) needs `--full-refresh`; `ctd-rtp build` decides that by
    itself from a fingerprint of the inputs (python/ctd_rtp/incremental.py). Spark tables are
    Parquet (no DELETE): there the models are plain tables, rebuilt in full each run. -#}

{#- The stamp of this run's rows. -#}
{% macro load_batch_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The newest load_batch in this model's table, as a SQL literal: rows of the checked table
    stamped after it belong to pairs this model has not caught up with. Read once, when the
    model is compiled (before its pre-hook deletes anything). -#}
{% macro lab_watermark() -%}
    {%- set found = none -%}
    {%- if execute and is_incremental() -%}
        {%- set columns = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}{%- do columns.append(column.name | lower) -%}{%- endfor -%}
        {%- if 'load_batch' not in columns -%}
            {{ exceptions.raise_compiler_error(this ~ " was built by an older version of the project (no load_batch column):"
                ~ " rebuild it in full once, `dbt build --full-refresh` (`ctd-rtp build` does it by itself)") }}
        {%- endif -%}
        {%- set found = run_query("select cast(max(load_batch) as " ~ text_type() ~ ") from " ~ this).columns[0].values()[0] -%}
    {%- endif -%}
    {{ return("cast('" ~ (found or '0001-01-01 00:00:00') ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{#- The patient x analyte pairs with a checked lab row stamped after `watermark`. -#}
{% macro touched_lab_pairs(watermark) -%}
    select distinct
        patient_id,
        analyte
    from {{ ref('int_lab_results_checked') }}
    where load_batch > {{ watermark }}
        and patient_id is not null
        and analyte is not null
{%- endmacro %}

{#- In an incremental run, keep only the rows of `alias` in touched pairs (an inner join; nothing
    in a full build). -#}
{% macro only_touched_lab_pairs(alias) -%}
    {%- if is_incremental() %}
    inner join ({{ touched_lab_pairs(lab_watermark()) }}) as touched
        on {{ alias }}.patient_id = touched.patient_id
            and {{ alias }}.analyte = touched.analyte
    {%- endif %}
{%- endmacro %}

{#- Pre-hook: delete this model's rows of the touched pairs (the model then appends them again,
    rebuilt). The watermark is read in the same statement, before any row goes. -#}
{% macro delete_touched_lab_pairs() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where exists (
            select 1
            from ({{ touched_lab_pairs("(select coalesce(max(load_batch), cast('0001-01-01' as " ~ dbt.type_timestamp() ~ ")) from " ~ this ~ ")") }}) as touched
            where touched.patient_id = {{ this }}.patient_id
                and touched.analyte = {{ this }}.analyte
        )
    {%- endif -%}
{%- endmacro %}

{#- The staged rows int_lab_results_checked must (re)process on an incremental run: the rows of
    extract files it has not seen, and older rows sharing a key with them. An extract it has seen
    that is gone now stops the build (files are append-only; removing one needs a full refresh).
    The older rows are read from this table, which holds every staged row with all its staged
    columns (checked_rows makes content_columns list them all): only the new files are parsed,
    not every raw file again (at 100,000 patients, 9 of the 10 s this model took). An incremental
    run happens only when nothing but new extract files changed (python/ctd_rtp/incremental.py),
    so the older rows staged again would be these same values. -#}
{% macro new_extract_rows(staged, name, key) -%}
    {%- set known = run_query("select distinct source_file from " ~ this ~ " order by 1").columns[0].values() | list -%}
    {%- set present = raw_file_names(name) -%}
    {%- set gone = [] -%}
    {%- for file in known -%}
        {%- if file not in present -%}{%- do gone.append(file) -%}{%- endif -%}
    {%- endfor -%}
    {%- if gone -%}
        {{ exceptions.raise_compiler_error(name ~ ": extract file(s) " ~ gone | join(', ')
            ~ " were loaded before but are no longer there. Extract files are append-only; to remove or replace one,"
            ~ " rebuild in full: `ctd-rtp build` does it by itself, by hand `dbt build --full-refresh`.") }}
    {%- endif -%}
    {%- set new = [] -%}
    {%- for file in present -%}
        {%- if file not in known -%}{%- do new.append("'" ~ file | replace("'", "''") ~ "'") -%}{%- endif -%}
    {%- endfor -%}
    {%- if not new -%}
        {{ return("(select * from " ~ staged ~ " where 1 = 0)") }}
    {%- endif -%}
    {%- set in_new = "source_file in (" ~ new | join(', ') ~ ")" -%}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(staged) -%}{%- do columns.append(adapter.quote(column.name)) -%}{%- endfor -%}
    {%- set new_rows = "select " ~ columns | join(', ') ~ " from " ~ staged ~ " where " ~ in_new -%}
    {{ return("(with new_rows as (" ~ new_rows ~ ") select * from new_rows union all select " ~ columns | join(', ')
        ~ " from " ~ this ~ " where " ~ key ~ " in (select " ~ key ~ " from new_rows))") }}
{%- endmacro %}
