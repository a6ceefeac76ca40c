from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings, url_field


class GatewaySettings(ServiceSettings):
    service: str = "gateway"
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("CC_GATEWAY_HOST"))
    port: int = Field(8080, validation_alias=AliasChoices("CC_GATEWAY_PORT"))
    auth_url: str = url_field("http://127.0.0.1:8081", "auth")
    membership_url: str = url_field("http://127.0.0.1:8082", "membership")
    billing_url: str = url_field("http://127.0.0.1:8083", "billing")
    notify_url: str = url_field("http://127.0.0.1:8084", "notify")
    upstream_timeout: float = 10.0

    def upstreams(self) -> dict[str, str]:
        return {
            "auth": self.auth_url,
            "membership": self.membership_url,
            "billing": self.billing_url,
            "notify": self.notify_url,
        }
