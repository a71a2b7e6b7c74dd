"""Email and SMS to patients and staff: one service (``notify``), logged message by message.

Templates live in ``templates/messages/<app>/<name>/``: ``subject.txt`` and ``body.txt`` (and optional
``body.html``) for email, ``sms.txt`` for a text message. A feature adds a message by adding a folder.
"""
