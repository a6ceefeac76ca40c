"""Billing: products, orders, cards (tokens only), invoices, payments, the billing run."""
