from shared.settings import ServiceSettings, port_field


class BillingSettings(ServiceSettings):
    service: str = "billing"
    port: int = port_field(8083, "billing")
