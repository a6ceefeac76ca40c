"""Settings from the environment (prefix ``CC_``) with localhost defaults that work."""

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def port_field(default: int, service: str) -> int:
    return Field(default, validation_alias=AliasChoices(f"CC_{service.upper()}_PORT"))


def url_field(default: str, service: str) -> str:
    return Field(default, validation_alias=AliasChoices(f"CC_{service.upper()}_URL"))


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses add their own port and options."""

    model_config = SettingsConfigDict(env_prefix="CC_", extra="ignore")

    service: str = "service"
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = "postgresql://postgres@127.0.0.1:5432/customer_center"
    db_pool_min: int = 1
    db_pool_max: int = 10
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Prefix of every exchange and queue name: tests use a unique one per run.
    bus_prefix: str = ""
    # How many times a message is delivered before it goes to the dead-letter queue.
    delivery_limit: int = 5
    # A failed handler waits base * 2^delivery (at most 5 s) before its message is redelivered.
    redelivery_backoff_seconds: float = 0.2
    prefetch: int = 32
    # The consumer applies what arrives while this many batches are in progress together: at most
    # consumer_batch messages per transaction (shared/consumer.py). Measured on 2 idle cores (make bench
    # QUICK=1): 4 x 50 made the welcome pipeline 13-15 registrations/s, 8 or 16 x 50 7-11/s (batches of
    # many messages waited on each other's lock of the site's row, since fixed: docs/performance.md,
    # "Welcome pipeline, third pass"); 32 x 1 (every handler of one message in one transaction, 32
    # messages at once) 78-88/s. Raise consumer_batch only with a benchmark in hand.
    consumer_concurrency: int = 32
    consumer_batch: int = 1
    # Inbox retention (shared/inbox.py): a dead letter older than this is not replayed, and inbox rows
    # go a day after it; the prune runs this often in each consuming service, this many rows a transaction.
    inbox_retention_days: float = Field(30.0, gt=0)
    inbox_prune_interval_seconds: float = Field(3600.0, gt=0)
    inbox_prune_batch: int = Field(5000, gt=0)
    migrate_on_start: bool = True
    log_format: Literal["json", "console"] = "json"
    log_level: str = "info"
    # Where each service's own HTTP API is, for the few synchronous questions one asks another.
    auth_url: str = url_field("http://127.0.0.1:8081", "auth")
    membership_url: str = url_field("http://127.0.0.1:8082", "membership")
    billing_url: str = url_field("http://127.0.0.1:8083", "billing")
    notify_url: str = url_field("http://127.0.0.1:8084", "notify")
    # The sandbox payment processor (billing charges through it; the gateway exposes its tokens route).
    sandbox_url: str = url_field("http://127.0.0.1:8085", "sandbox")
    # Where people reach the system: links in emails point here.
    public_url: str = "http://127.0.0.1:8080"
    shutdown_timeout: float = 10.0
    # uvloop's event loop (faster I/O and scheduling than asyncio's own); off: CC_UVLOOP=false.
    uvloop: bool = True
    # Access tokens: auth signs them, the gateway verifies them.
    jwt_issuer: str = "customer-center"
    jwt_audience: str = "customer-center"
    outbox_batch: int = 200
    outbox_poll_seconds: float = 1.0

    def upstreams(self) -> dict[str, str]:
        return {
            "auth": self.auth_url,
            "membership": self.membership_url,
            "billing": self.billing_url,
            "notify": self.notify_url,
            "sandbox": self.sandbox_url,
        }

    @property
    def exchange_name(self) -> str:
        return f"{self.bus_prefix}cc.events"

    @property
    def dead_letter_exchange_name(self) -> str:
        return f"{self.bus_prefix}cc.dead"

    @property
    def queue_name(self) -> str:
        return f"{self.bus_prefix}{self.service}.events"

    @property
    def unrouted_queue_name(self) -> str:
        return f"{self.bus_prefix}cc.unrouted"

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.queue_name}.dead"
