from shared.settings import ServiceSettings, port_field


class MembershipSettings(ServiceSettings):
    service: str = "membership"
    port: int = port_field(8082, "membership")
