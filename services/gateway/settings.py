from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """The services' URLs (``CC_AUTH_URL``, ...) come from ``ServiceSettings``."""

    service: str = "gateway"
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("CC_GATEWAY_HOST"))
    port: int = Field(8080, validation_alias=AliasChoices("CC_GATEWAY_PORT"))
    upstream_timeout: float = 10.0
    # Session cookies' Secure flag: unset = when the request came over TLS; false for plain-HTTP localhost.
    cookie_secure: bool | None = Field(None, validation_alias=AliasChoices("CC_COOKIE_SECURE"))
    # The site of /login and /checkout without ?site=.
    default_site: str = Field("demo", validation_alias=AliasChoices("CC_DEFAULT_SITE"))
