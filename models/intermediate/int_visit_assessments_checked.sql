{{ checked_rows(
    ref('stg_visit_assessments'), ['patient_id', 'assessed_on'],
    content_columns=['who_bleeding_grade', 'prednisone_equivalent_mg_day', 'rescue_therapy', 'row_issue'],
    date_column='assessed_on'
) }}
