from dataclasses import dataclass

import asyncpg

from services.billing.processor import PaymentProcessor
from services.billing.settings import BillingSettings


@dataclass(frozen=True)
class Ctx:
    """What an operation needs: the database, the processor, the settings, the request's correlation id."""

    pool: asyncpg.Pool
    processor: PaymentProcessor
    settings: BillingSettings
    correlation_id: str

    @property
    def producer(self) -> str:
        return self.settings.service
