{#- Where a raw table comes from.
    Default: the bundled synthetic demo seeds in schema `raw`.
    With CTD_RTP_RAW_DIR set: the user's own <table>.parquet or <table>.csv in that folder,
    read in place by DuckDB with every column as text (staging casts, so a malformed value
    is quarantined with a reason instead of failing the load).
    The file's shape is checked when the model runs: a file that cannot be read as the table
    (empty, not UTF-8, a column missing, a line with the wrong number of fields) stops the
    build with a message naming the file, the line and the rule (docs/data-rejection.md). -#}
{% macro raw_table(name) -%}
    {#- the staging model reads the source `raw.<name>` (lineage and docs start at the files); the
        relation it renders is used only for the demo seeds, which are that relation -#}
    {%- do source('raw', name) -%}
    {%- set raw_dir = env_var('CTD_RTP_RAW_DIR', '') -%}
    {%- if raw_dir == '' and name in appendable_raw_tables() -%}
        {#- the demo seed is one extract; its name stands in for the file name -#}
        {{ return("(select *, '" ~ name ~ "' as source_file from " ~ ref(name) ~ ")") }}
    {%- elif raw_dir == '' -%}
        {{ ref(name) }}
    {%- else -%}
        {{ return(adapter.dispatch('read_raw_file', 'ctd_rtp')(raw_dir.rstrip('/'), name)) }}
    {%- endif -%}
{%- endmacro %}

{#- Raw tables that may arrive as several extract files, read together and processed
    incrementally: `lab_results.csv` plus any `lab_results_<anything>.csv` (or .parquet) in
    CTD_RTP_RAW_DIR. Each row carries `source_file`, the file it came from; a run after a new
    file is added processes only that file's rows (and the rows they touch). -#}
{% macro appendable_raw_tables() -%}
    {{ return(['lab_results']) }}
{%- endmacro %}

{#- The raw input contract: the columns each file must have, in contract order. They live in one
    place, the dbt source `raw` (models/staging/_raw__sources.yml), read here from the graph. At
    parse time the graph is not loaded yet and the list is not needed (no SQL runs). -#}
{% macro raw_table_columns(name) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set node = graph.sources.get('source.' ~ project_name ~ '.raw.' ~ name) -%}
    {%- if node is none or not node.columns -%}
        {{ exceptions.raise_compiler_error("raw table '" ~ name ~ "' is not part of the input contract"
            ~ " (source raw in models/staging/_raw__sources.yml)") }}
    {%- endif -%}
    {{ return(node.columns.keys() | list) }}
{%- endmacro %}

{% macro default__list_raw_files(raw_dir, name) -%}
    {{ exceptions.raise_compiler_error("CTD_RTP_RAW_DIR is only supported on DuckDB so far (target type: " ~ target.type ~ ")") }}
{%- endmacro %}

{% macro default__read_raw_file(raw_dir, name) -%}
    {{ exceptions.raise_compiler_error("CTD_RTP_RAW_DIR is only supported on DuckDB so far (target type: " ~ target.type ~ ")") }}
{%- endmacro %}

{#- Compare a file's columns (names as found, any case and order) with the contract:
    a missing column stops the build; an extra one is ignored (and logged). -#}
{% macro check_raw_columns(file_name, name, found) -%}
    {%- set expected = raw_table_columns(name) -%}
    {%- set found_lower = [] -%}
    {%- for column in found -%}{%- do found_lower.append(column | lower) -%}{%- endfor -%}
    {%- set missing = [] -%}
    {%- for column in expected -%}
        {%- if column not in found_lower -%}{%- do missing.append(column) -%}{%- endif -%}
    {%- endfor -%}
    {%- set duplicated = [] -%}
    {%- for column in found_lower -%}
        {%- if found_lower.count(column) > 1 and column not in duplicated -%}{%- do duplicated.append(column) -%}{%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(file_name ~ ": missing column(s) " ~ missing | join(', ')
            ~ "; expected " ~ expected | join(', ') ~ "; found " ~ (found | join(', ') or '(nothing)')
            ~ ". Columns are matched by name (any order, any case); the header must be the first line.") }}
    {%- endif -%}
    {%- if duplicated -%}
        {{ exceptions.raise_compiler_error(file_name ~ ": column(s) " ~ duplicated | join(', ')
            ~ " appear more than once in the header") }}
    {%- endif -%}
    {%- set extra = [] -%}
    {%- for column in found_lower -%}
        {%- if column not in expected -%}{%- do extra.append(column) -%}{%- endif -%}
    {%- endfor -%}
    {%- if extra -%}
        {{ log(file_name ~ ": extra column(s) " ~ extra | join(', ') ~ " ignored", info=true) }}
    {%- endif -%}
{%- endmacro %}

{#- A CSV header line: the delimiter is the one it uses (',' the contract, ';' European Excel, tab
    or '|'); the names are trimmed and unquoted (an empty one becomes unnamed_<n>), then checked
    against the contract. Returns {'delim': ..., 'columns': [...]}; shared by DuckDB and Spark. -#}
{% macro raw_csv_header(file_name, name, header_line) -%}
    {%- set ns = namespace(delim=',', best=0) -%}
    {%- for candidate in [',', ';', '\t', '|'] -%}
        {%- if header_line.count(candidate) > ns.best -%}
            {%- set ns.delim = candidate -%}
            {%- set ns.best = header_line.count(candidate) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set found = [] -%}
    {%- for column in header_line.split(ns.delim) -%}
        {%- set clean = column.strip().strip('"').strip() -%}
        {%- do found.append(clean if clean else 'unnamed_' ~ loop.index) -%}
    {%- endfor -%}
    {%- do check_raw_columns(file_name, name, found) -%}
    {{ return({'delim': ns.delim, 'columns': found}) }}
{%- endmacro %}

{#- The file names (no folder) a raw table is read from, when the model runs: the demo seed's
    name, or the files in CTD_RTP_RAW_DIR. -#}
{% macro raw_file_names(name) -%}
    {%- set raw_dir = env_var('CTD_RTP_RAW_DIR', '') -%}
    {%- if raw_dir == '' -%}
        {{ return([name]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for path in adapter.dispatch('list_raw_files', 'ctd_rtp')(raw_dir.rstrip('/'), name) -%}
        {%- do names.append(path.split('/')[-1]) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{% macro duckdb__list_raw_files(raw_dir, name) -%}
    {%- set appendable = name in appendable_raw_tables() -%}
    {#- the files of this table: <name>.csv or <name>.parquet; an appendable table also takes
        <name>_<anything>.csv|.parquet, one extract per file -#}
    {%- set files = [] -%}
    {%- set listed = run_query("select file from glob('" ~ (raw_dir ~ '/' ~ name) | replace("'", "''")
        ~ "*') order by file") -%}
    {%- for path in listed.columns[0].values() -%}
        {%- set base = path.split('/')[-1] -%}
        {%- for ext in ['.csv', '.parquet'] -%}
            {%- if base == name ~ ext or (appendable and base.startswith(name ~ '_') and base.endswith(ext)) -%}
                {%- do files.append(path) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if files | length == 0 -%}
        {{ exceptions.raise_compiler_error("raw table '" ~ name ~ "' not found: expected " ~ raw_dir ~ '/' ~ name ~ ".csv or "
            ~ raw_dir ~ '/' ~ name ~ ".parquet" ~ (" (plus any " ~ name ~ "_<extract>.csv|.parquet)" if appendable else "")
            ~ " (CTD_RTP_RAW_DIR=" ~ raw_dir ~ ")") }}
    {%- endif -%}
    {{ return(files) }}
{%- endmacro %}

{% macro duckdb__read_raw_file(raw_dir, name) -%}
    {%- set expected = raw_table_columns(name) -%}
    {%- set columns_sql = expected | join(', ') or '*' -%}
    {%- set appendable = name in appendable_raw_tables() -%}
    {%- if not execute -%}
        {#- parsing only: the SQL is not run, the file need not exist yet -#}
        {%- set csv_sql = (raw_dir ~ '/' ~ name ~ '.csv') | replace("'", "''") -%}
        {{ return("(select " ~ columns_sql ~ (", '' as source_file" if appendable else "")
            ~ " from read_csv('" ~ csv_sql ~ "', header = true, all_varchar = true))") }}
    {%- endif -%}

    {%- set files = adapter.dispatch('list_raw_files', 'ctd_rtp')(raw_dir, name) -%}
    {%- set bases = [] -%}
    {%- for path in files -%}{%- do bases.append(path.split('/')[-1].rsplit('.', 1)[0]) -%}{%- endfor -%}
    {%- for base in bases -%}
        {%- if bases.count(base) > 1 -%}
            {{ exceptions.raise_compiler_error(name ~ ": both " ~ base ~ ".csv and " ~ base ~ ".parquet are in " ~ raw_dir
                ~ "; keep only the one to load (the other may be stale)") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if not appendable -%}
        {{ return("(select " ~ columns_sql ~ " from " ~ duckdb__read_raw_one_file(files[0], name) ~ ")") }}
    {%- endif -%}
    {%- set selects = [] -%}
    {%- for path in files -%}
        {%- do selects.append("select " ~ columns_sql ~ ", '" ~ path.split('/')[-1] | replace("'", "''")
            ~ "' as source_file from " ~ duckdb__read_raw_one_file(path, name)) -%}
    {%- endfor -%}
    {{ return("(" ~ selects | join(" union all ") ~ ")") }}
{%- endmacro %}

{#- One raw file as a table expression with every column as text, after checking its shape. -#}
{% macro duckdb__read_raw_one_file(path, name) -%}
    {%- set file_name = path.split('/')[-1] -%}
    {%- set path_sql = path | replace("'", "''") -%}
    {%- set expected = raw_table_columns(name) -%}
    {%- if path.endswith('.parquet') -%}
        {%- set described = run_query("describe select * from read_parquet('" ~ path_sql ~ "')") -%}
        {%- do check_raw_columns(file_name, name, described.columns[0].values() | list) -%}
        {{ return("read_parquet('" ~ path_sql ~ "')") }}
    {%- endif -%}
    {%- set csv_sql = path_sql -%}
    {%- set encoding = delivery_format(file_name)['encoding'] -%}
    {%- if encoding not in ['utf-8', 'utf8', 'utf-8-sig'] -%}
        {#- declared in delivery.yml: `ctd-rtp build` reads the file in that encoding and writes a
            UTF-8 copy beside the warehouse (python/ctd_rtp/delivery.py); the file is not touched -#}
        {%- set utf8_dir = env_var('CTD_RTP_UTF8_DIR', '').rstrip('/') -%}
        {%- if utf8_dir == '' -%}
            {{ exceptions.raise_compiler_error(file_name ~ ": delivery.yml declares encoding " ~ encoding ~ "; dbt reads UTF-8 only."
                ~ " Build with `ctd-rtp build`, which converts a copy to UTF-8 (the file is not changed), or save the file as UTF-8") }}
        {%- endif -%}
        {%- set csv_sql = (utf8_dir ~ '/' ~ file_name) | replace("'", "''") -%}
        {%- if run_query("select count(*) from glob('" ~ csv_sql ~ "')").rows[0][0] == 0 -%}
            {{ exceptions.raise_compiler_error(file_name ~ ": delivery.yml declares encoding " ~ encoding ~ " but no UTF-8 copy is in "
                ~ utf8_dir ~ "; build with `ctd-rtp build`") }}
        {%- endif -%}
    {%- endif -%}

    {#- 0. a file checked by an earlier build of this warehouse (steps 1 and 3 passed), with the same
        path, size and modification time and the same DuckDB, is not read again: its header is taken
        from that record and its row count is the one kept then (meta.raw_rows_<table>). A full
        refresh checks every file. Like make and rsync, a file rewritten with the same size and a
        restored timestamp would not be noticed (docs/scale.md). -#}
    {%- set stat = run_query(raw_file_checked_lookup(name, csv_sql)).rows[0] -%}
    {%- set file_stat = {'size': stat[0], 'modified': stat[1]} -%}
    {%- if stat[2] is not none and not flags.FULL_REFRESH -%}
        {%- set header = raw_csv_header(file_name, name, stat[2]) -%}
        {{ return(raw_csv_read_sql(csv_sql, header, sized=true)) }}
    {%- endif -%}

    {#- 1. bytes: not empty, UTF-8 text; the header is the first line (a BOM and a CR are dropped).
        DuckDB holds a blob of at most 4 GB: a larger file (a lab export of 1,000,000 patients is
        5.7 GiB) is read as lines instead, each one as a whole (a delimiter no CSV holds), which
        stops at its first byte that is not UTF-8 with DuckDB's message naming the file and line.
        (var raw_file_blob_max_bytes: for tests of that path only.) -#}
    {%- if file_stat['size'] > var('raw_file_blob_max_bytes', 3000000000) -%}
        {%- set lines = "read_csv('" ~ csv_sql ~ "', header = false, auto_detect = false, delim = '\x1f\x1e',"
            ~ " quote = '', escape = '', columns = {'line': 'VARCHAR'}, strict_mode = false, null_padding = true)" -%}
        {%- do run_query("select count(line) from " ~ lines) -%}
        {%- set first = run_query("select rtrim(ltrim(line, chr(65279)), chr(13)) from " ~ lines ~ " limit 1").rows -%}
        {%- set probe = [file_stat['size'], false, (first[0][0] or '') if first | length > 0 else ''] -%}
    {%- else -%}
    {%- set probe = run_query(
        "select size, try(decode(content)) is null as not_utf8,"
        ~ " rtrim(ltrim(split_part(try(decode(content)), chr(10), 1), chr(65279)), chr(13)) as header_line"
        ~ " from read_blob('" ~ csv_sql ~ "')"
    ).rows[0] -%}
    {%- endif -%}
    {%- if probe[0] == 0 -%}
        {{ exceptions.raise_compiler_error(file_name ~ ": the file is empty (0 bytes); expected at least the header line: "
            ~ expected | join(',')) }}
    {%- endif -%}
    {%- if probe[1] -%}
        {{ exceptions.raise_compiler_error(file_name ~ ": the file is not UTF-8 text (e.g. saved in a Windows or GBK code page); "
            ~ "save it as UTF-8 (Excel: 'CSV UTF-8 (Comma delimited)'), or declare its encoding in delivery.yml"
            ~ " (e.g. encoding: windows-1252, latin-1 or gbk; `ctd-rtp check` suggests one)") }}
    {%- endif -%}
    {%- set header_line = probe[2] -%}

    {#- 2. the delimiter and the column names, from the header (checked against the contract) -#}
    {%- set header = raw_csv_header(file_name, name, header_line) -%}
    {%- set ns = namespace(delim=header['delim']) -%}
    {%- set found = header['columns'] -%}

    {#- 3. every line splits into as many fields as the header has: the dialect is fixed (no sniffing,
        which could take a malformed line for the header and silently skip the lines above it) -#}
    {%- set read_sql = raw_csv_read_sql(csv_sql, header, close=false) -%}
    {%- set rejects = 'ctd_rtp_rejects_' ~ name -%}
    {#- the scan counts the file's rows too: kept (meta.raw_rows_<table>, macros/raw_row_counts.sql) for
        assert_raw_rows_reconcile, which then need not read the file again -#}
    {%- set bad_lines = run_query(
        "drop table if exists " ~ rejects ~ "; drop table if exists " ~ rejects ~ "_scan;"
        ~ raw_file_rows_record(name, path, read_sql ~ ", store_rejects = true, rejects_scan = '" ~ rejects ~ "_scan',"
        ~ " rejects_table = '" ~ rejects ~ "')") ~ ";"
        ~ " select line, cast(error_type as varchar), error_message, regexp_extract(error_message, 'Found: (\\d+)', 1),"
        ~ " rtrim(csv_line, chr(13) || chr(10)) from " ~ rejects ~ " order by line, column_idx limit 1"
    ) -%}
    {%- if bad_lines.rows | length > 0 -%}
        {%- set bad = bad_lines.rows[0] -%}
        {%- if (bad[4] | string).strip() == '' -%}
            {%- set problem = "a line holding only spaces (delete it)" -%}
        {%- elif bad[1] in ('TOO MANY COLUMNS', 'MISSING COLUMNS') -%}
            {%- set problem = bad[3] ~ " fields, expected " ~ found | length ~ " as in the header" -%}
        {%- else -%}
            {%- set problem = bad[2] | trim -%}
        {%- endif -%}
        {{ exceptions.raise_compiler_error(file_name ~ " line " ~ bad[0] ~ ": " ~ problem ~ " (the line: " ~ bad[4]
            ~ "). A value holding '" ~ ns.delim ~ "', a double quote or a line break must be in double quotes"
            ~ " (a double quote inside it doubled). Fix the line and build again.") }}
    {%- endif -%}
    {%- do run_query(raw_file_checked_record(name, csv_sql, file_stat, header_line)) -%}
    {{ return(raw_csv_read_sql(csv_sql, header, sized=true)) }}
{%- endmacro %}

{#- read_csv(...) of a CSV file with the delimiter and columns of its header (raw_csv_header), every
    column as text; `close=false` leaves the call open for more options.
    sized=true (the read the staging views use, once the file's lines are checked): DuckDB opens the
    file when it plans a query, to estimate its rows from its size (`auto_detect = true`); with
    `auto_detect = false` the estimate is a constant 42 rows, and DuckDB then builds its hash joins
    on the file's side, e.g. the 13M lab rows of 100,000 patients against the 61 test code and unit
    pairs of stg_lab_results. Every option the sniffer could choose is given (header, skip,
    delimiter, quote, escape, no comment character, the columns and their type), so it decides
    nothing about how the file is read. The line check (step 3 of read_raw_file) never sniffs: on
    a malformed file the sniffer's own error would come before the line's. -#}
{% macro raw_csv_read_sql(csv_sql, header, close=true, sized=false) -%}
    {%- set column_types = [] -%}
    {%- for column in header['columns'] -%}
        {%- do column_types.append("'" ~ (column | lower | replace("'", "''")) ~ "': 'VARCHAR'") -%}
    {%- endfor -%}
    {%- set delim_sql = '\\t' if header['delim'] == '\t' else header['delim'] -%}
    {{ return("read_csv('" ~ csv_sql ~ "', header = true, auto_detect = " ~ ("true" if sized else "false")
        ~ ", skip = 0, delim = '" ~ delim_sql ~ "', quote = '\"', escape = '\"', comment = '', columns = {" ~ column_types | join(', ') ~ "}" ~ (")" if close else "")) }}
{%- endmacro %}

{#- Spark: the same files, read by Spark with every column as text. Each file becomes an external
    table in schema `raw_files` (only a definition pointing at the file: dropping it never touches
    the file), recreated on every build, because a permanent dbt view cannot read a temporary one.
    Checked when the model runs: the file exists (csv or parquet, not both), is not empty, the header
    names the contract columns (any case and order; the delimiter is the one the header uses), and
    every CSV line has as many fields as the header (Spark cannot give the line number: the message
    quotes the line). Not checked on Spark: the encoding (Spark reads UTF-8 and replaces bad bytes);
    a 0-byte file is invisible to Spark's file listing (an empty CSV reads as "not found", and an
    empty Parquet next to a CSV is not seen). -#}
{% macro spark__read_raw_file(raw_dir, name) -%}
    {%- set parquet_path = raw_dir ~ '/' ~ name ~ '.parquet' -%}
    {%- set csv_path = raw_dir ~ '/' ~ name ~ '.csv' -%}
    {%- set expected = raw_table_columns(name) -%}
    {%- set table = 'raw_files.' ~ name -%}
    {#- an appendable table (lab results) names its file in source_file; extra extract files
        (lab_results_<extract>) are read on DuckDB only, so far -#}
    {%- set appendable = name in appendable_raw_tables() -%}
    {%- if not execute -%}
        {#- parsing only: the SQL is not run, the file need not exist yet -#}
        {{ return("(select " ~ (expected | join(', ') or '*') ~ (", '' as source_file" if appendable else "") ~ " from " ~ table ~ ")") }}
    {%- endif -%}

    {#- which of the two files the folder holds (Spark lists it; only the names are read) -#}
    {%- do run_query("create or replace temporary view ctd_rtp_raw_listing_" ~ name ~ " using binaryFile options (path "
        ~ ctd_rtp.spark_literal(raw_dir) ~ ")") -%}
    {%- set found_files = run_query("select count_if(endswith(path, " ~ ctd_rtp.spark_literal('/' ~ name ~ '.parquet')
        ~ ")), count_if(endswith(path, " ~ ctd_rtp.spark_literal('/' ~ name ~ '.csv') ~ ")) from ctd_rtp_raw_listing_" ~ name ~ "").rows[0] -%}
    {%- set found_parquet, found_csv = found_files[0], found_files[1] -%}
    {%- if appendable -%}
        {%- set extracts = run_query("select count_if(regexp_like(path, " ~ ctd_rtp.spark_literal('/' ~ name ~ '_[^/]*[.](csv|parquet)$')
            ~ ")) from ctd_rtp_raw_listing_" ~ name).rows[0][0] -%}
        {%- if extracts > 0 -%}
            {{ exceptions.raise_compiler_error(name ~ ": " ~ extracts ~ " extract file(s) " ~ name ~ "_<extract>.csv|.parquet in "
                ~ raw_dir ~ "; on Spark only " ~ name ~ ".csv or " ~ name ~ ".parquet is read so far (DuckDB reads them all)."
                ~ " Combine the extracts into one file for Spark.") }}
        {%- endif -%}
    {%- endif -%}
    {%- if found_parquet > 0 and found_csv > 0 -%}
        {{ exceptions.raise_compiler_error(name ~ ": both " ~ name ~ ".csv and " ~ name ~ ".parquet are in " ~ raw_dir
            ~ "; keep only the one to load (the other may be stale)") }}
    {%- endif -%}
    {%- if found_parquet == 0 and found_csv == 0 -%}
        {{ exceptions.raise_compiler_error("raw table '" ~ name ~ "' not found: expected " ~ csv_path ~ " or " ~ parquet_path ~ " (CTD_RTP_RAW_DIR=" ~ raw_dir
            ~ "; Spark does not list empty 0-byte files)") }}
    {%- endif -%}
    {%- do run_query("create schema if not exists raw_files") -%}
    {%- do run_query("drop table if exists " ~ table) -%}

    {%- if found_parquet > 0 -%}
        {#- the folder with a file filter: a table on the file itself makes the Hive metastore log a
            stack trace ("not a directory") before Spark falls back to its own format -#}
        {%- do run_query("create table " ~ table ~ " using parquet options (path " ~ ctd_rtp.spark_literal(raw_dir)
            ~ ", pathGlobFilter " ~ ctd_rtp.spark_literal(name ~ '.parquet') ~ ")") -%}
        {%- set found = run_query("select * from " ~ table ~ " limit 0").column_names | list -%}
        {%- do check_raw_columns(name ~ '.parquet', name, found) -%}
        {%- set columns = [] -%}
        {%- for column in expected -%}
            {%- do columns.append("cast(" ~ column ~ " as string) as " ~ column) -%}
        {%- endfor -%}
        {%- if appendable -%}{%- do columns.append("'" ~ name ~ ".parquet' as source_file") -%}{%- endif -%}
        {{ return("(select " ~ columns | join(', ') ~ " from " ~ table ~ ")") }}
    {%- endif -%}

    {%- set file_name = name ~ '.csv' -%}
    {#- the encoding delivery.yml declares (Java charsets: UTF-8, ISO-8859-1, windows-1252, GBK, ...) -#}
    {%- set declared_encoding = delivery_format(file_name)['encoding'] -%}
    {%- set spark_encoding = {'utf-8': 'UTF-8', 'utf8': 'UTF-8', 'utf-8-sig': 'UTF-8', 'latin-1': 'ISO-8859-1', 'latin1': 'ISO-8859-1',
        'iso-8859-1': 'ISO-8859-1', 'us-ascii': 'US-ASCII', 'ascii': 'US-ASCII', 'utf-16': 'UTF-16', 'utf-16le': 'UTF-16LE',
        'utf-16be': 'UTF-16BE', 'utf-32': 'UTF-32'}.get(declared_encoding) -%}
    {%- if spark_encoding is none -%}
        {#- Spark's CSV reader with multiLine (quoted line breaks) takes only these charsets -#}
        {{ exceptions.raise_compiler_error(file_name ~ ": delivery.yml declares encoding " ~ declared_encoding ~ "; Spark's CSV reader"
            ~ " reads only UTF-8, UTF-16, UTF-32, ISO-8859-1 (latin-1) and US-ASCII. Save the file as UTF-8 for Spark,"
            ~ " or build on DuckDB (`ctd-rtp build` converts it)") }}
    {%- endif -%}
    {#- 1. the header is the first line (a BOM and a CR are dropped) -#}
    {%- do run_query("create or replace temporary view ctd_rtp_raw_lines_" ~ name ~ " using text options (path "
        ~ ctd_rtp.spark_literal(csv_path) ~ ")") -%}
    {%- set first_lines = run_query("select value from ctd_rtp_raw_lines_" ~ name ~ " limit 1").rows -%}
    {%- if first_lines | length == 0 -%}
        {{ exceptions.raise_compiler_error(file_name ~ ": the file is empty (0 bytes); expected at least the header line: "
            ~ expected | join(',')) }}
    {%- endif -%}
    {%- set header_line = (first_lines[0][0] or '').lstrip('\ufeff').rstrip('\r') -%}

    {#- 2. the delimiter and the column names, from the header (checked against the contract) -#}
    {%- set header = raw_csv_header(file_name, name, header_line) -%}
    {%- set ns = namespace(delim=header['delim']) -%}
    {%- set found = header['columns'] -%}

    {#- 3. the columns are named by the header (as cleaned above), all text; a line with another number
        of fields lands in _corrupt_record, and the first such line stops the build -#}
    {%- set column_types = [] -%}
    {%- for column in found -%}
        {%- do column_types.append("`" ~ (column | lower | replace("`", "``")) ~ "` string") -%}
    {%- endfor -%}
    {%- do run_query("create table " ~ table ~ " (" ~ column_types | join(', ') ~ ", _corrupt_record string) using csv"
        ~ " options (path " ~ ctd_rtp.spark_literal(csv_path) ~ ", header 'true', inferSchema 'false', enforceSchema 'true',"
        ~ " multiLine 'true', quote '\"', escape '\"', sep " ~ ctd_rtp.spark_literal(ns.delim) ~ ", encoding " ~ ctd_rtp.spark_literal(spark_encoding) ~ ","
        ~ " mode 'PERMISSIVE', columnNameOfCorruptRecord '_corrupt_record')") -%}
    {%- set bad_lines = run_query("select " ~ expected[0] ~ ", _corrupt_record from " ~ table
        ~ " where _corrupt_record is not null limit 1").rows -%}
    {%- if bad_lines | length > 0 -%}
        {%- set line = bad_lines[0][1] | replace('\r', '') | replace('\n', ' ') -%}
        {%- set problem = "a line holding only spaces (delete it)" if line.strip() == ''
            else (line.split(ns.delim) | length) ~ " fields, expected " ~ found | length ~ " as in the header" -%}
        {{ exceptions.raise_compiler_error(file_name ~ ": " ~ problem ~ " (the line: " ~ line
            ~ "). A value holding '" ~ ns.delim ~ "', a double quote or a line break must be in double quotes"
            ~ " (a double quote inside it doubled). Fix the line and build again.") }}
    {%- endif -%}
    {{ return("(select " ~ expected | join(', ') ~ (", '" ~ name ~ ".csv' as source_file" if appendable else "")
        ~ " from " ~ table ~ ")") }}
{%- endmacro %}
