from shared.settings import ServiceSettings, port_field


class BillingSettings(ServiceSettings):
    service: str = "billing"
    port: int = port_field(8083, "billing")
    # Dunning: after the n-th failed charge of an invoice, try again this many days after the first
    # failure (CC_RETRY_DAYS='[1, 3, 5]'); after the last, the order is suspended.
    retry_days: list[float] = [1, 3, 5]
    # A transient processor error (no answer, processing error) is retried sooner, with the same key,
    # this many times before it counts as a failed charge.
    transient_retry_seconds: float = 3600.0
    transient_retries: int = 3
    # The scheduled billing run: every so many seconds (0 turns it off). The first run comes one
    # interval after start, so a freshly started system (and the test suite) is not disturbed.
    billing_run_interval_seconds: float = 3600.0
    # Orders (invoices) a billing run claims, charges together (one batch at the processor) and writes
    # in one transaction.
    billing_run_batch: int = 500
    # Batches a billing run has in flight at once (each its own transaction and connection): while
    # one waits for the processor or the database, the next is claimed and written. On 2 cores, 2
    # billed 0-8 points of the baseline's rate more than 1, 4 on average (docs/performance.md,
    # seventh pass).
    billing_run_concurrency: int = 2
