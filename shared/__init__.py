"""Code every Customer Center service uses: settings, logging, events, bus, outbox, inbox, app."""
