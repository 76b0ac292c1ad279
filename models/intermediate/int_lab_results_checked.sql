{{ checked_rows(ref('stg_lab_results'), ['result_id'], date_column='collected_on') }}
