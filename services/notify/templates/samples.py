"""Sample merge values for previews: an admin sees their template rendered as a contact would get it,
without any real link, token or payment in it. Pure."""

SAMPLE_CONTACT = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Sample"}


def sample_fields(public_url: str, *, username: str) -> dict[str, object]:
    """A value for every merge field any email declares (contact fields come from the contact)."""
    base = public_url.rstrip("/")
    return {
        "center_url": f"{base}/center",
        "level_name": "Gold",
        "username": username,
        "set_password_url": f"{base}/password/set?token=sample-preview",
        "reset_url": f"{base}/password/set?token=sample-preview",
        "expires_at": "2030-01-31 12:00 UTC",
        "amount": "$49.00",
        "total": "$147.00",
        "product_name": "Sample membership",
        "paid_at": "2030-01-01",
        "card_brand": "Visa",
        "card_last4": "4242",
        "expiry": "12/2030",
        "receipt_url": f"{base}/center/receipts/sample",
        "retry_date": "2030-01-04",
        "update_card_url": f"{base}/center/cards",
        "access_ends_at": "2030-02-01",
        "installments_paid": "2",
        "old_username": "ada.old@example.com",
        "new_username": username,
        "changed_at": "2030-01-01 12:00 UTC",
        "forgot_password_url": f"{base}/password/forgot",
    }
