-- When billing told (billing.card.expiry_approached) that a card paying open orders expires soon.
ALTER TABLE cards ADD COLUMN expiry_notified_at timestamptz;
