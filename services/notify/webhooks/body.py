"""What an endpoint receives: the event, minus the secrets some events carry for their email."""

import json

from shared.events import Envelope

# Single-use links (they hold tokens): they exist for the email only and never leave in a webhook,
# sealed (events v2) or plain (v1, still read during an upgrade).
REDACTED = frozenset({"set_password_link", "reset_link", "set_password_url", "reset_url"})


def webhook_body(envelope: Envelope) -> str:
    data = {k: v for k, v in envelope.payload.items() if k not in REDACTED}
    return json.dumps(
        {
            "id": str(envelope.id),
            "type": envelope.type,
            "version": envelope.version,
            "occurred_at": envelope.occurred_at.isoformat(),
            "producer": envelope.producer,
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=True,
    )
