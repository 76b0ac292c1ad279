{{ checked_rows(ref('stg_adverse_events'), ['ae_id'], date_column='onset_on') }}
