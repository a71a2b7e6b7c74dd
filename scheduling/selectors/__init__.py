"""Every non-trivial read of the scheduling app: availability.py (free time), calendar.py (day view,
lists), reports.py (daily reconciliation), settings.py."""
