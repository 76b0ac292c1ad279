{{ checked_rows(ref('stg_visit_assessments'), ['patient_id', 'assessed_on'], date_column='assessed_on') }}
