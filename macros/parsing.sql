{#- Text -> typed values, the same way for every raw table. -#}

{#- A boolean spelled any of the usual ways, plus the spellings delivery.yml declares (fmt:
    delivery_format(...); none = the defaults); anything else is null (and quarantined by the caller). -#}
{% macro parse_boolean(column, fmt=none) -%}
    {%- set fmt = fmt or delivery_defaults() -%}
    case lower({{ delivery_text(column, fmt) }})
        when 'true' then true when 't' then true when 'yes' then true when 'y' then true when '1' then true
        when 'false' then false when 'f' then false when 'no' then false when 'n' then false when '0' then false
        {%- for spelling in fmt['booleans']['true_values'] %}
        when {{ sql_text_literal(spelling | lower) }} then true
        {%- endfor %}
        {%- for spelling in fmt['booleans']['false_values'] %}
        when {{ sql_text_literal(spelling | lower) }} then false
        {%- endfor %}
    end
{%- endmacro %}

{#- Sex as F or M: F/M in any case, plus the spellings delivery.yml declares (Female, 女, ...).
    Another value stays as written (upper-cased), so the caller quarantines it naming it. -#}
{% macro parse_sex(column, fmt=none) -%}
    {%- set fmt = fmt or delivery_defaults() -%}
    {%- set text = 'upper(trim(cast(' ~ column ~ ' as ' ~ text_type() ~ ')))' -%}
    {%- if not (fmt['sex']['F'] or fmt['sex']['M']) -%}
        {{ text }}
    {%- else -%}
        (case
            {%- if fmt['sex']['F'] %}
            when lower({{ text }}) in ({{ sql_text_list(fmt['sex']['F']) }}) then 'F'
            {%- endif %}
            {%- if fmt['sex']['M'] %}
            when lower({{ text }}) in ({{ sql_text_list(fmt['sex']['M']) }}) then 'M'
            {%- endif %}
            else {{ text }}
        end)
    {%- endif -%}
{%- endmacro %}

{#- The trimmed text of a raw value; null when empty, blank or one of the missing-value tokens
    delivery.yml declares (NA, n/a, -, ...; compared case-insensitively). -#}
{% macro delivery_text(column, fmt=none) -%}
    {%- set fmt = fmt or delivery_defaults() -%}
    {%- if fmt['missing_values'] -%}
        (case
            when lower(trim(cast({{ column }} as {{ text_type() }}))) not in ({{ sql_text_list(fmt['missing_values']) }})
                then nullif(trim(cast({{ column }} as {{ text_type() }})), '')
        end)
    {%- else -%}
        nullif(trim(cast({{ column }} as {{ text_type() }})), '')
    {%- endif -%}
{%- endmacro %}

{#- A date; null when empty or unparseable. Always read: ISO yyyy-mm-dd (also yyyy/mm/dd, without
    leading zeros, with a time part after it) and dates with the month spelled in English
    (04-Jan-2021, 4 January 2021, Jan 4, 2021): neither is ambiguous. Day-first or month-first
    numeric dates (04/01/2021, 04.01.2021, 4-1-2021) are read only in the order delivery.yml
    declares (date_order dmy or mdy), plus any declared date_formats (strptime patterns, DuckDB).
    The year always has four digits. -#}
{% macro parse_date(column, fmt=none) -%}
    {%- set fmt = fmt or delivery_defaults() -%}
    {{ return(adapter.dispatch('parse_date', 'ctd_rtp')(column, fmt)) }}
{%- endmacro %}

{#- The patterns of one date order: numeric ones (only for dmy and mdy) and spelled-month ones. -#}
{% macro date_patterns(order) -%}
    {{ return({
        'numeric': {'ymd': [], 'dmy': ['%d/%m/%Y', '%d.%m.%Y', '%d-%m-%Y'], 'mdy': ['%m/%d/%Y', '%m.%d.%Y', '%m-%d-%Y']}[order],
        'spelled': ['%d-%b-%Y', '%d %b %Y', '%d-%B-%Y', '%d %B %Y', '%b %d, %Y', '%B %d, %Y', '%b %d %Y', '%B %d %Y'],
        'numeric_regex': '[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{4}',
        'spelled_regex': '[0-9]{1,2}[ -][A-Za-z]{3,9}[ -][0-9]{4}|[A-Za-z]{3,9} [0-9]{1,2},? [0-9]{4}',
        'time_regex': '[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?$',
    }) }}
{%- endmacro %}

{% macro duckdb_text_array(values) -%}
    {%- set out = [] -%}
    {%- for v in values -%}{%- do out.append(sql_text_literal(v)) -%}{%- endfor -%}
    [{{ out | join(', ') }}]
{%- endmacro %}

{% macro default__parse_date(column, fmt) -%}
    {%- set text = delivery_text(column, fmt) -%}
    {%- set p = date_patterns(fmt['date_order']) -%}
    {%- set day = "regexp_replace(" ~ text ~ ", '" ~ p['time_regex'] ~ "', '')" -%}
    {%- if fmt['date_order'] == 'ymd' and not fmt['date_formats'] -%}
    {#- the plain cast first: the pattern is tried only on the few values it does not read -#}
    coalesce(
        try_cast({{ text }} as date),
        case
            when regexp_full_match({{ text }}, '{{ p["spelled_regex"] }}')
                then cast(try_strptime({{ text }}, {{ duckdb_text_array(p['spelled']) }}) as date)
        end
    )
    {%- else -%}
    (case
        {%- if fmt['date_formats'] %}
        when try_strptime({{ text }}, {{ duckdb_text_array(fmt['date_formats']) }}) is not null
            then cast(try_strptime({{ text }}, {{ duckdb_text_array(fmt['date_formats']) }}) as date)
        {%- endif %}
        {%- if p['numeric'] %}
        when regexp_full_match({{ day }}, '{{ p["numeric_regex"] }}')
            then cast(try_strptime({{ day }}, {{ duckdb_text_array(p['numeric']) }}) as date)
        {%- endif %}
        when regexp_full_match({{ day }}, '{{ p["spelled_regex"] }}')
            then cast(try_strptime({{ day }}, {{ duckdb_text_array(p['spelled']) }}) as date)
        {%- if fmt['date_order'] == 'ymd' %}
        else try_cast({{ text }} as date)
        {%- else %}
        when regexp_full_match({{ text }}, '[0-9]{4}[-/].*') then try_cast({{ text }} as date)
        {%- endif %}
    end)
    {%- endif -%}
{%- endmacro %}

{#- Spark's date cast is lenient ("2024", "2024-05", "2024-05-01 junk" all cast): accept only
    yyyy-m-d text for ISO dates; day-first, month-first and spelled dates through Java patterns
    (try_to_timestamp: null, not an error, when a pattern does not fit). -#}
{% macro spark__parse_date(column, fmt) -%}
    {%- do spark_unsupported_format(fmt, 'parse_date(' ~ column ~ ')') -%}
    {%- set text = delivery_text(column, fmt) -%}
    {%- set p = date_patterns(fmt['date_order']) -%}
    {%- set day = "regexp_replace(" ~ text ~ ", " ~ sql_text_literal(p['time_regex']) ~ ", '')" -%}
    {%- set java = {
        'dmy': ['d/M/yyyy', 'd.M.yyyy', 'd-M-yyyy'], 'mdy': ['M/d/yyyy', 'M.d.yyyy', 'M-d-yyyy'], 'ymd': [],
        'spelled': ['d-MMM-yyyy', 'd MMM yyyy', 'd-MMMM-yyyy', 'd MMMM yyyy', 'MMM d, yyyy', 'MMMM d, yyyy', 'MMM d yyyy', 'MMMM d yyyy'],
    } -%}
    (case
        when {{ text }} rlike '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$'
            then try_cast({{ text }} as date)
        {%- if java[fmt['date_order']] %}
        when {{ day }} rlike '^({{ p["numeric_regex"] }})$'
            then to_date(coalesce({% for j in java[fmt['date_order']] %}try_to_timestamp({{ day }}, '{{ j }}'){{ ', ' if not loop.last }}{% endfor %}))
        {%- endif %}
        when {{ day }} rlike '^({{ p["spelled_regex"] }})$'
            then to_date(coalesce({% for j in java['spelled'] %}try_to_timestamp({{ day }}, '{{ j }}'){{ ', ' if not loop.last }}{% endfor %}))
    end)
{%- endmacro %}

{#- A whole number. "2" and "2.0" (how pandas writes an integer column with gaps) are 2 ("2,0"
    when delivery.yml declares a decimal comma); "1.5", "1e1", "0x10" are null (and quarantined
    by the caller): a plain cast would round a bleeding grade of 1.5 to 2 without a word. -#}
{% macro parse_integer(column, fmt=none) -%}
    {%- set fmt = fmt or delivery_defaults() -%}
    {{ return(adapter.dispatch('parse_integer', 'ctd_rtp')(column, fmt)) }}
{%- endmacro %}

{% macro default__parse_integer(column, fmt) -%}
    {%- if fmt['decimal_separator'] == ',' or fmt['missing_values'] -%}
    {%- set text = delivery_text(column, fmt) -%}
    (case
        when regexp_full_match({{ text }}, '[+-]?[0-9]+([{{ fmt["decimal_separator"] }}]0*)?')
            then try_cast(try_cast(replace({{ text }}, ',', '.') as double) as integer)
    end)
    {%- else -%}
    (case
        when regexp_full_match(trim(cast({{ column }} as varchar)), '[+-]?[0-9]+([.]0*)?')
            then try_cast(try_cast(trim(cast({{ column }} as varchar)) as double) as integer)
    end)
    {%- endif -%}
{%- endmacro %}

{#- Spark: `rlike` with anchors (Spark has no regexp_full_match). -#}
{% macro spark__parse_integer(column, fmt) -%}
    {%- set text = delivery_text(column, fmt) -%}
    (case
        when {{ text }} rlike '^[+-]?[0-9]+([{{ fmt["decimal_separator"] }}]0*)?$'
            then try_cast(try_cast(replace({{ text }}, ',', '.') as double) as integer)
    end)
{%- endmacro %}

{#- A finite number; null when empty, not a number, or NaN / Infinity (which DuckDB would cast).
    With a declared decimal comma or thousands separator, the text must fit that format exactly
    (3,5 / 1.234,5 / 25,000 / 25 000): anything else is null, never guessed. -#}
{% macro parse_number(column, fmt=none) -%}
    {%- set fmt = fmt or delivery_defaults() -%}
    {%- if fmt['decimal_separator'] == '.' and not fmt['thousands_separator'] and not fmt['missing_values'] -%}
        {{ return(adapter.dispatch('parse_number', 'ctd_rtp')(column)) }}
    {%- endif -%}
    {{ return(number_from_text(delivery_text(column, fmt), fmt)) }}
{%- endmacro %}

{% macro default__parse_number(column) -%}
    {{ finite_or_null("try_cast(nullif(trim(cast(" ~ column ~ " as varchar)), '') as double)") }}
{%- endmacro %}

{#- Spark's double cast also takes Java spellings ("1.5d", "2f"): accept plain decimal/exponent text only. -#}
{% macro spark__parse_number(column) -%}
    (case
        when trim(cast({{ column }} as string)) rlike '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'
            then {{ finite_or_null("try_cast(trim(cast(" ~ column ~ " as string)) as double)") }}
    end)
{%- endmacro %}

{#- A number from trimmed text in the declared format: the default ('.' decimal, no thousands
    separator) is a plain cast; otherwise the text must match the format, then the thousands
    separators are dropped and the decimal comma becomes a point. -#}
{% macro number_from_text(text, fmt) -%}
    {%- set dec, th = fmt['decimal_separator'], fmt['thousands_separator'] -%}
    {%- if dec == '.' and not th -%}
        {{ return(finite_or_null("try_cast(" ~ text ~ " as double)")) }}
    {%- endif -%}
    {%- set th_class = {',': '[,]', '.': '[.]', ' ': '[ \u00a0\u202f]', "'": "[']"}.get(th, '') -%}
    {%- set whole = ('([0-9]{1,3}(' ~ th_class ~ '[0-9]{3})+|[0-9]+)') if th else '[0-9]+' -%}
    {%- set pattern = '[+-]?(' ~ whole ~ '([' ~ dec ~ '][0-9]*)?|[' ~ dec ~ '][0-9]+)([eE][+-]?[0-9]+)?' -%}
    {%- set plain = ("replace(" ~ (regex_replace_all(text, th_class, '') if th else text) ~ ", ',', '.')") -%}
    {{ return("(case when " ~ regex_full_match(text, pattern) ~ " then "
        ~ finite_or_null("try_cast(" ~ plain ~ " as double)") ~ " end)") }}
{%- endmacro %}

{% macro finite_or_null(expression) -%}
    {{ return(adapter.dispatch('finite_or_null', 'ctd_rtp')(expression)) }}
{%- endmacro %}

{% macro default__finite_or_null(expression) -%}
    (case when isfinite({{ expression }}) then {{ expression }} end)
{%- endmacro %}

{#- Spark has no isfinite; NaN and +/-Infinity are what a text cast can produce. -#}
{% macro spark__finite_or_null(expression) -%}
    (case when not isnan({{ expression }}) and abs({{ expression }}) != double('Infinity') then {{ expression }} end)
{%- endmacro %}

{#- A value that is absent in the raw text (null, blank, or a declared missing-value token). -#}
{% macro is_blank(column, fmt=none) -%}
    ({{ delivery_text(column, fmt) }} is null)
{%- endmacro %}

{#- Regular expressions that read the same on both engines (RE2 / Java; no backslashes). -#}
{% macro regex_full_match(text, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'ctd_rtp')(text, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, {{ sql_text_literal(pattern) }})
{%- endmacro %}

{% macro spark__regex_full_match(text, pattern) -%}
    ({{ text }} rlike {{ sql_text_literal('^(' ~ pattern ~ ')$') }})
{%- endmacro %}

{#- Replace every match; `\1` in the replacement is the first group (Spark writes it `$1`). -#}
{% macro regex_replace_all(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'ctd_rtp')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ sql_text_literal(pattern) }}, {{ sql_text_literal(replacement) }}, 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ sql_text_literal(pattern) }}, {{ sql_text_literal(replacement | replace('\\', '$')) }})
{%- endmacro %}

{#- ---------------------------------------------------------------- lab values and units -#}

{#- An abnormal flag written before or after a lab value: H, L, HH, LL, A, AA (any case, also in
    parentheses), *, **, !, arrows. Letters before the number need a space after them. -#}
{% macro lab_flag_regex(where) -%}
    {%- set flag = '[(]?(?i:HH|LL|H|L|AA|A)[)]?|[*]{1,2}|[!]{1,2}|↑{1,2}|↓{1,2}' -%}
    {{ return({'trailing': '^(.*[0-9.])[ ]*(' ~ flag ~ ')$', 'leading': '^(' ~ flag ~ ')[ ]+(.+)$'}[where]) }}
{%- endmacro %}

{#- The flag of a lab value text (upper case, without parentheses), null when it has none. -#}
{% macro lab_flag(text) -%}
    (case
        when regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('trailing')) }}, 2) <> ''
            then upper(translate(regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('trailing')) }}, 2), '()', ''))
        when regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('leading')) }}, 1) <> ''
            then upper(translate(regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('leading')) }}, 1), '()', ''))
    end)
{%- endmacro %}

{#- The lab value text without its flag (a censoring sign stays: "<5 L" -> "<5"). -#}
{% macro lab_value_without_flag(text) -%}
    (case
        when regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('trailing')) }}, 2) <> ''
            then regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('trailing')) }}, 1)
        when regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('leading')) }}, 1) <> ''
            then regexp_extract({{ text }}, {{ sql_text_literal(lab_flag_regex('leading')) }}, 2)
        else {{ text }}
    end)
{%- endmacro %}

{#- A unit in one canonical spelling, so lab_test_map holds canonical spellings only: lower
    case, no spaces; micro sign (U+00B5) and Greek mu (U+03BC) -> u; superscript powers ->
    ^n (x10⁹/L -> 10^9/l); the power written x10^9, ×10^9, *10^9, 10*9, 10**9 or 10E9 -> 10^9;
    K/uL -> 10^3/ul; /mm3 and /mm³ (a cubic millimetre is a microlitre) -> /ul.
    Pinned by the unit tests of stg_lab_results (models/staging/_staging__models.yml). -#}
{% macro normalize_unit(unit) -%}
    {%- set t = "translate(lower(trim(cast(" ~ unit ~ " as " ~ text_type() ~ "))), 'µμ×', 'uux')" -%}
    {%- set t = regex_replace_all(t, '[ \u00a0]+', '') -%}
    {%- set t = "translate(" ~ regex_replace_all(t, '([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)', '^\\1') ~ ", '⁰¹²³⁴⁵⁶⁷⁸⁹⁻', '0123456789-')" -%}
    {%- set t = regex_replace_all(t, '^[x*](10)', '\\1') -%}
    {%- set t = regex_replace_all(t, '10([*]{1,2}|[e^])([0-9]+)', '10^\\2') -%}
    {%- set t = regex_replace_all(t, '^k/', '10^3/') -%}
    {%- set t = regex_replace_all(t, '/mm[*^]?3$', '/ul') -%}
    {{ return(t) }}
{%- endmacro %}

{#- A test code as the map matches it: upper case, spaces collapsed, full-width parentheses as
    ASCII. In stg_lab_results a trailing "(unit)" is then dropped when it is the row's own unit
    ("PLT (10^9/L)" with unit 10^9/L is PLT): test_code_unit_regex splits it off. -#}
{% macro test_code_text(code) -%}
    upper({{ regex_replace_all("translate(trim(cast(" ~ code ~ " as " ~ text_type() ~ ")), '（）', '()')", '[ \u00a0]+', ' ') }})
{%- endmacro %}

{% macro test_code_unit_regex() -%}^(.+?)[ ]*[(]([^()]+)[)]${%- endmacro %}
