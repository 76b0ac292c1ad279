{{ checked_rows(
    ref('stg_drug_exposures'), ['exposure_id'],
    content_columns=['patient_id', 'drug', 'started_on', 'ended_on', 'is_ongoing', 'daily_dose_mg', 'row_issue'],
    date_column='started_on',
    period={
        'start': 'started_on', 'end': 'ended_on', 'partition_by': ['patient_id', 'drug'],
        'reason': 'overlaps an earlier exposure to the same drug'
    }
) }}
