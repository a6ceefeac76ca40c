"""Notify: email templates, every message sent or held, SMTP delivery."""
