{{ checked_rows(
    ref('stg_adverse_events'), ['ae_id'],
    content_columns=[
        'patient_id', 'onset_on', 'resolved_on', 'term', 'ctcae_grade', 'is_serious',
        'is_related_to_study_drug', 'row_issue'
    ],
    date_column='onset_on'
) }}
