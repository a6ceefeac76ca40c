-- A payment's order_id and card_id are copies kept for reading (the order is its invoice's, which
-- references it; the card is the one charged), not what ties the payment to anything: the foreign
-- keys that remain are payments.invoice_id -> invoices and invoices.order_id -> orders. Billing never
-- deletes an order or a card (a card is removed by removed_at). Each of these two checks cost the
-- billing run a query and a row lock (KEY SHARE) on the parent per payment: ~15-20 µs of
-- PostgreSQL CPU per payment of the ~70 its inserts took (docs/performance.md, fourth pass).
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_order_id_fkey;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_card_id_fkey;
