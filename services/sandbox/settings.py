from shared.settings import ServiceSettings, port_field


class SandboxSettings(ServiceSettings):
    service: str = "sandbox"
    port: int = port_field(8085, "sandbox")
