"""The sandbox payment processor: tokenises test cards, charges and refunds them, honours idempotency keys."""
