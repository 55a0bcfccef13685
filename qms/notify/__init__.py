"""Reminders by e-mail: a daily digest per person of what waits for them (`qms notify`, for cron).

Not a blueprint domain: the digest reads the domains' services (SOPs to read, corrective actions,
calibrations, authorisations and witnessing, SOP reviews) and sends through Flask-Mail over the
`QMS_SMTP_*` settings. Each person may turn it off on their account page (`NotificationPreference`).
"""
