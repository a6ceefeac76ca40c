from typing import Literal

from pydantic import AliasChoices, Field, SecretStr

from shared.settings import ServiceSettings, port_field


class NotifySettings(ServiceSettings):
    service: str = "notify"
    port: int = port_field(8084, "notify")
    # CC_LINK_KEYS: the keys that seal the set-password and reset links in events (shared/sealing.py);
    # the same value in auth and notify; the service refuses to start without it.
    link_keys: SecretStr | None = None
    # Notify's consumer: CC_NOTIFY_CONSUMER_* set notify's alone, CC_CONSUMER_* every service's
    # (shared/consumer.py). The default stays every service's 32 x 1: one batch of up to 32 at a time
    # costs a third less CPU per registration but made a SIGKILL of notify 2-3x as likely to land in
    # an email's SMTP window (a second copy): docs/performance.md, "Notify, fourth pass".
    consumer_concurrency: int = Field(
        32, validation_alias=AliasChoices("CC_NOTIFY_CONSUMER_CONCURRENCY", "CC_CONSUMER_CONCURRENCY")
    )
    consumer_batch: int = Field(1, validation_alias=AliasChoices("CC_NOTIFY_CONSUMER_BATCH", "CC_CONSUMER_BATCH"))
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    # none: plain SMTP (a local sink); starttls: upgrade when offered; tls: implicit TLS (port 465).
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout: float = 10.0
    # SMTP sessions are reused (services/notify/delivery.py): this many kept idle, each for at most
    # smtp_messages_per_session messages; one idle longer than smtp_noop_after_seconds is checked with
    # NOOP before use, one idle longer than smtp_idle_seconds is closed.
    smtp_pool_size: int = 8
    smtp_messages_per_session: int = 100
    smtp_noop_after_seconds: float = 5.0
    smtp_idle_seconds: float = 60.0
    # The answer to a message's final "." is waited for this long on the socket itself, the event loop
    # held (delivery.py: nothing else runs between that answer and its record, the window a kill turns
    # into a second copy); a slower server is then waited for through the loop. 0: always the loop.
    smtp_answer_wait_seconds: float = 0.01
    # The express lane (delivery.py): an email queued by an event is begun on an idle SMTP session
    # inside the event's transaction and ended right after its commit, if the server takes the
    # beginning within this long; otherwise (and with 0) the delivery worker sends it.
    smtp_express_seconds: float = 0.25
    mail_from: str = "Customer Center <no-reply@customer-center.localhost>"
    # Temporary failures (4xx, connection trouble) are retried with backoff this many times.
    delivery_max_attempts: int = 8
    delivery_backoff_seconds: float = 2.0
    delivery_concurrency: int = 8
    # A message still 'sending' after this long was left by a worker that died between the end of
    # its DATA and the record of the server's answer: it is sent again (delivery.py). Keep it above
    # smtp_timeout, or a live worker's slow answer is taken for a dead one's.
    delivery_uncertain_seconds: float = 15.0
    # Sequences: the scheduled loop runs what is due this often (and when a contact is enrolled).
    sequence_poll_seconds: float = 15.0
    # Webhooks: retried with backoff (delivery_backoff_seconds doubling, capped) for this long.
    webhook_retry_hours: float = 24.0
    webhook_max_backoff_seconds: float = 3600.0
    webhook_timeout: float = 10.0
