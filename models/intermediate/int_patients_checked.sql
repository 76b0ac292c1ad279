{{ checked_rows(ref('stg_patients'), ['patient_id'], date_column=none, check_patient=false) }}
