from shared.settings import ServiceSettings, port_field


class AuthSettings(ServiceSettings):
    service: str = "auth"
    port: int = port_field(8081, "auth")
    # A set-password link from a welcome email stays valid this long.
    set_password_ttl_hours: int = 72
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    # argon2id cost; the defaults exceed OWASP's recommended minimum (19 MiB, t=2, p=1).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
