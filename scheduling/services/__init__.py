"""Every write of the scheduling app (the house style: business rules live in services, one transaction
each): booking.py (the conflict-proof path),
transitions.py (one function per status change), identity.py (match-or-create), jobs.py (holds and
reminders), asap.py, recall.py, reports.py, messages.py (what patients are told)."""
