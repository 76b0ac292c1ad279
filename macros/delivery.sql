{#- Declared delivery formats: `delivery.yml` beside the raw files in CTD_RTP_RAW_DIR
    (docs/data-contract.md). Absent = the defaults below, which are the rules of the plain
    contract. Ambiguous formats (day-first or month-first dates, decimal commas) are declared
    here, never guessed. `ctd-rtp check` reads the same file (python/ctd_rtp/delivery.py) and
    the corpus test pins the two readings to the same outcome. -#}

{% macro delivery_defaults() -%}
    {{ return({
        'encoding': 'utf-8',
        'date_order': 'ymd',
        'date_formats': [],
        'decimal_separator': '.',
        'thousands_separator': '',
        'missing_values': [],
        'sex': {'F': [], 'M': []},
        'booleans': {'true_values': [], 'false_values': []},
    }) }}
{%- endmacro %}

{#- The text of delivery.yml, or none when the delivery has none (or no CTD_RTP_RAW_DIR). -#}
{% macro delivery_file_text() -%}
    {%- set raw_dir = env_var('CTD_RTP_RAW_DIR', '').rstrip('/') -%}
    {%- if raw_dir == '' or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.dispatch('read_delivery_file', 'ctd_rtp')(raw_dir ~ '/delivery.yml')) }}
{%- endmacro %}

{% macro default__read_delivery_file(path) -%}
    {%- set path_sql = path | replace("'", "''") -%}
    {%- set found = run_query("select count(*) from glob('" ~ path_sql ~ "')").rows[0][0] -%}
    {%- if found == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set probe = run_query("select try(decode(content)) from read_blob('" ~ path_sql ~ "')").rows[0] -%}
    {%- if probe[0] is none -%}
        {{ exceptions.raise_compiler_error("delivery.yml: the file is not UTF-8 text; save it as UTF-8") }}
    {%- endif -%}
    {{ return(probe[0]) }}
{%- endmacro %}

{% macro spark__read_delivery_file(path) -%}
    {%- set folder = path.rsplit('/', 1)[0] -%}
    {%- do run_query("create or replace temporary view ctd_rtp_delivery_listing using binaryFile options (path "
        ~ ctd_rtp.spark_literal(folder) ~ ", pathGlobFilter 'delivery.yml')") -%}
    {%- set rows = run_query("select cast(content as string) from ctd_rtp_delivery_listing").rows -%}
    {{ return(rows[0][0] if rows else none) }}
{%- endmacro %}

{#- A list of spellings from delivery.yml, each a string (YAML reads unquoted yes/no/on/off as
    booleans and 1/0 as numbers: a boolean is refused, a number kept as written). -#}
{% macro delivery_spellings(where, value) -%}
    {%- if value is string -%}{%- set value = [value] -%}{%- endif -%}
    {%- if value is not sequence or value is mapping -%}
        {{ exceptions.raise_compiler_error("delivery.yml: " ~ where ~ " must be a list of spellings, e.g. [\"ja\", \"是\"]") }}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for item in value -%}
        {%- if item is none or item is sameas true or item is sameas false -%}
            {{ exceptions.raise_compiler_error("delivery.yml: " ~ where ~ " holds " ~ item
                ~ ": write each spelling in double quotes (YAML reads an unquoted yes, no, on, off, null as a boolean or empty)") }}
        {%- endif -%}
        {%- do out.append(item | string) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{#- One block of settings (the top level, or one file's) checked and merged over `base`. -#}
{% macro delivery_merge(base, block, where) -%}
    {%- set out = {} -%}
    {%- do out.update(base) -%}
    {%- if block is none -%}{{ return(out) }}{%- endif -%}
    {%- if block is not mapping -%}
        {{ exceptions.raise_compiler_error("delivery.yml: " ~ where ~ " must be a mapping of settings") }}
    {%- endif -%}
    {%- for key, value in block.items() -%}
        {%- set at = (where ~ '.' if where else '') ~ key -%}
        {%- if key == 'files' and where == '' -%}
            {#- read by delivery_format -#}
        {%- elif key not in base -%}
            {{ exceptions.raise_compiler_error("delivery.yml: unknown setting " ~ at ~ "; the settings are "
                ~ base.keys() | list | join(', ') ~ (", files" if where == '' else '')) }}
        {%- elif key == 'date_order' -%}
            {%- if value not in ['ymd', 'dmy', 'mdy'] -%}
                {{ exceptions.raise_compiler_error("delivery.yml: " ~ at ~ " is " ~ value ~ "; expected ymd, dmy or mdy") }}
            {%- endif -%}
            {%- do out.update({key: value}) -%}
        {%- elif key == 'decimal_separator' -%}
            {%- if value not in ['.', ','] -%}
                {{ exceptions.raise_compiler_error("delivery.yml: " ~ at ~ " is " ~ value ~ "; expected \".\" or \",\"") }}
            {%- endif -%}
            {%- do out.update({key: value}) -%}
        {%- elif key == 'thousands_separator' -%}
            {%- set value = '' if value is none else value -%}
            {%- if value not in ['', ',', '.', ' ', "'"] -%}
                {{ exceptions.raise_compiler_error("delivery.yml: " ~ at ~ " is " ~ value ~ "; expected \"\" (none), \",\", \".\", \" \" or \"'\"") }}
            {%- endif -%}
            {%- do out.update({key: value}) -%}
        {%- elif key == 'encoding' -%}
            {%- if value is not string or value | trim == '' -%}
                {{ exceptions.raise_compiler_error("delivery.yml: " ~ at ~ " must be an encoding name (utf-8, latin-1, windows-1252, gbk, ...)") }}
            {%- endif -%}
            {%- do out.update({key: value | trim | lower | replace('_', '-')}) -%}
        {%- elif key in ['date_formats', 'missing_values'] -%}
            {%- do out.update({key: delivery_spellings(at, value)}) -%}
        {%- else -%}
            {#- sex: {F: [...], M: [...]}; booleans: {true_values: [...], false_values: [...]} -#}
            {%- if value is not mapping -%}
                {{ exceptions.raise_compiler_error("delivery.yml: " ~ at ~ " must be a mapping with keys " ~ base[key].keys() | list | join(', ')) }}
            {%- endif -%}
            {%- set inner = {} -%}
            {%- do inner.update(base[key]) -%}
            {%- for inner_key, spellings in value.items() -%}
                {%- if inner_key not in base[key] -%}
                    {{ exceptions.raise_compiler_error("delivery.yml: unknown key " ~ at ~ '.' ~ inner_key ~ "; expected "
                        ~ base[key].keys() | list | join(', ')) }}
                {%- endif -%}
                {%- do inner.update({inner_key: delivery_spellings(at ~ '.' ~ inner_key, spellings)}) -%}
            {%- endfor -%}
            {%- do out.update({key: inner}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if out['decimal_separator'] == out['thousands_separator'] -%}
        {{ exceptions.raise_compiler_error("delivery.yml: " ~ (where or 'the delivery') ~ " uses " ~ out['decimal_separator']
            ~ " as both the decimal and the thousands separator") }}
    {%- endif -%}
    {{ return(out) }}
{%- endmacro %}

{#- The settings in force for one file: the defaults, then the top level of delivery.yml, then
    its `files: {<file name>: {...}}` entry. `file_name` is e.g. 'lab_results.csv'; a lab extract
    file (lab_results_<extract>.csv) may declare only its own encoding. -#}
{% macro delivery_format(file_name) -%}
    {%- set text = delivery_file_text() -%}
    {%- if text is none -%}{{ return(delivery_defaults()) }}{%- endif -%}
    {%- set parsed = fromyaml(text) -%}
    {%- if parsed is none -%}{{ return(delivery_defaults()) }}{%- endif -%}
    {%- if parsed is not mapping -%}
        {{ exceptions.raise_compiler_error("delivery.yml: expected settings (key: value lines), found " ~ parsed) }}
    {%- endif -%}
    {%- set top = delivery_merge(delivery_defaults(), parsed, '') -%}
    {%- set files = parsed.get('files') or {} -%}
    {%- if files is not mapping -%}
        {{ exceptions.raise_compiler_error("delivery.yml: files must map file names to settings, e.g. files: {lab_results.csv: {date_order: dmy}}") }}
    {%- endif -%}
    {%- if '.' not in file_name -%}
        {#- a table name: its file is <table>.csv or <table>.parquet -#}
        {%- set block = files.get(file_name ~ '.csv') or files.get(file_name ~ '.parquet') -%}
    {%- else -%}
        {%- set block = files.get(file_name) -%}
        {%- if file_name.startswith('lab_results_') and block is mapping and block.keys() | reject('equalto', 'encoding') | list -%}
            {#- the extracts of a table are parsed together, in the table's format -#}
            {{ exceptions.raise_compiler_error("delivery.yml: files." ~ file_name ~ ": a lab extract file declares only its encoding;"
                ~ " the value formats are those of lab_results.csv (declare them there or at the top level)") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(delivery_merge(top, block, 'files.' ~ file_name)) }}
{%- endmacro %}

{#- The format a value was read with, appended to a rejection reason so that it says how to
    declare another one: e.g. "collected_on missing or not a date [delivery.yml date_order: ymd]". -#}
{% macro format_note(fmt, kind) -%}
    {%- if kind == 'date' -%}
        {%- set note = 'date_order: ' ~ fmt['date_order'] ~ ((', date_formats: ' ~ fmt['date_formats'] | join(' | ')) if fmt['date_formats'] else '') -%}
    {%- elif kind == 'number' -%}
        {%- set note = "decimal_separator: '" ~ fmt['decimal_separator'] ~ "', thousands_separator: "
            ~ ("'" ~ fmt['thousands_separator'] ~ "'" if fmt['thousands_separator'] else 'none') -%}
    {%- elif kind == 'boolean' -%}
        {%- set note = 'booleans: ' ~ (['true', 't', 'yes', 'y', '1'] + fmt['booleans']['true_values']) | join(', ')
            ~ ' / ' ~ (['false', 'f', 'no', 'n', '0'] + fmt['booleans']['false_values']) | join(', ') -%}
    {%- elif kind == 'sex' -%}
        {%- set note = 'sex: ' ~ (['F'] + fmt['sex']['F']) | join(', ') ~ ' / ' ~ (['M'] + fmt['sex']['M']) | join(', ') -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("format_note: unknown kind " ~ kind) }}
    {%- endif -%}
    {{ return(sql_text_literal(' [delivery.yml ' ~ note ~ ']')) }}
{%- endmacro %}

{#- A text literal on either engine (Spark escapes with a backslash, DuckDB doubles the quote). -#}
{% macro sql_text_literal(value) -%}
    {{ return(adapter.dispatch('sql_text_literal', 'ctd_rtp')(value)) }}
{%- endmacro %}

{% macro default__sql_text_literal(value) -%}
    {{ return("'" ~ value | replace("'", "''") ~ "'") }}
{%- endmacro %}

{% macro spark__sql_text_literal(value) -%}
    {{ return(ctd_rtp.spark_literal(value)) }}
{%- endmacro %}

{#- A list of text literals for `in (...)`, lower-cased (spellings compare case-insensitively). -#}
{% macro sql_text_list(values) -%}
    {%- set out = [] -%}
    {%- for v in values -%}{%- do out.append(sql_text_literal(v | lower)) -%}{%- endfor -%}
    {{ return(out | join(', ')) }}
{%- endmacro %}

{#- Spark honours encoding, date_order, decimal and thousands separators, missing values and the
    spellings; it cannot honour date_formats (DuckDB strptime patterns). Said at compile time. -#}
{% macro spark_unsupported_format(fmt, where) -%}
    {%- if target.type == 'spark' and fmt['date_formats'] -%}
        {{ exceptions.raise_compiler_error("delivery.yml: " ~ where ~ ": date_formats (" ~ fmt['date_formats'] | join(', ')
            ~ ") is honoured on DuckDB only; on Spark declare date_order (ymd, dmy, mdy) instead") }}
    {%- endif -%}
{%- endmacro %}
