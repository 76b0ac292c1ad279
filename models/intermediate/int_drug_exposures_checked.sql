{{ checked_rows(
    ref('stg_drug_exposures'), ['exposure_id'], date_column='started_on',
    period={
        'start': 'started_on', 'end': 'ended_on', 'partition_by': ['patient_id', 'drug'],
        'reason': 'overlaps an earlier exposure to the same drug'
    }
) }}
