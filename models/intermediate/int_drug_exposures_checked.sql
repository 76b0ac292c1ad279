{{ checked_rows(ref('stg_drug_exposures'), ['exposure_id'], date_column='started_on') }}
