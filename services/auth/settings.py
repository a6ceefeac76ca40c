from pydantic import SecretStr

from shared.settings import ServiceSettings, port_field


class AuthSettings(ServiceSettings):
    service: str = "auth"
    port: int = port_field(8081, "auth")
    # CC_LINK_KEYS: the keys that seal the set-password and reset links in events (shared/sealing.py);
    # the same value in auth and notify; the service refuses to start without it.
    link_keys: SecretStr | None = None
    # A set-password link from a welcome email (or an admin's resend) stays valid this long.
    set_password_ttl_hours: int = 72
    # A forgotten-password link stays valid this long; at most this many are sent per login per hour.
    reset_ttl_minutes: int = 60
    resets_per_hour: int = 3
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    staff_session_ttl_hours: int = 12  # an admin console session, from its login (no sliding)
    # How often a running auth looks for a newer signing key (after `python -m services.auth rotate-key`).
    signing_key_reload_seconds: float = 5.0
    # argon2id cost; the defaults meet OWASP's recommended minimum (19 MiB, t=2, p=1).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    # Failed logins per account: the first few answer at once, then each answer is held back longer
    # (base, doubling, up to cap seconds); the max-th failure within the window locks the account
    # (lock_seconds, doubling with each further lock, up to a day).
    login_free_failures: int = 3
    login_delay_base_seconds: float = 0.1
    login_delay_cap_seconds: float = 1.0
    login_max_failures: int = 10
    login_window_seconds: int = 900
    login_lock_seconds: int = 900
    # Failed logins per client address (as the gateway saw it), over every account.
    address_max_failures: int = 100
    # Asking membership for the post-login page: how long to wait before answering /center.
    landing_timeout_seconds: float = 1.0
