-- The last two foreign keys a billing run checked per subscription, payments.invoice_id -> invoices
-- and invoices.order_id -> orders, give way to what makes them hold: billing writes an invoice only
-- for an order it holds (claimed FOR UPDATE, or inserted in the same transaction) and a payment only
-- for an invoice it holds or writes in the same transaction, and no order, invoice or payment is
-- ever deleted. That last rule was a habit of the code; the triggers below make it the database's
-- (a DELETE or TRUNCATE of these tables is refused), so nothing can leave an invoice without its
-- order or a payment without its invoice. Each check cost the run a query and a KEY SHARE lock (a
-- write to the parent row) per row: ~20 µs of the machine's ~170 µs per subscription
-- (docs/performance.md, seventh pass).
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_invoice_id_fkey;
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_order_id_fkey;

CREATE FUNCTION refuse_ledger_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'billing keeps every % row: it is part of the ledger and is never deleted', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER orders_kept BEFORE DELETE OR TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_deletion();
CREATE TRIGGER invoices_kept BEFORE DELETE OR TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_deletion();
CREATE TRIGGER payments_kept BEFORE DELETE OR TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_deletion();
