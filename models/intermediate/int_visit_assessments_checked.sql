{{ checked_rows(
    ref('stg_visit_assessments'), ['patient_id', 'assessed_on'],
    content_columns=[
        'who_bleeding_grade', 'prednisone_equivalent_mg_day', 'rescue_therapy', 'row_issue',
        'who_bleeding_grade_issue', 'prednisone_equivalent_mg_day_issue', 'rescue_therapy_issue',
        'who_bleeding_grade_text', 'prednisone_equivalent_mg_day_text', 'rescue_therapy_text',
    ],
    date_column='assessed_on'
) }}
