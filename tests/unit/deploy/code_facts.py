"""What the code says about services, ports, routes and settings: the manifests are checked
against this, so a service added to the code (e.g. billing's sandbox) is checked the same way."""

import importlib
import inspect
from functools import cache
from pathlib import Path

from pydantic import AliasChoices

from services.system import DEFAULT_PORTS, SERVICES
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[3]

# Named in the manifests ahead of their code, built in parallel on another branch. Each is
# exempt only while its package does not exist here; once it does, it is checked like the others.
PENDING = {"sandbox": ("the sandbox payment processor (billing's issue)", 8085)}


def code_services() -> list[str]:
    """Every runnable service: the launcher's list plus every services/<name>/__main__.py."""
    found = {p.parent.name for p in (ROOT / "services").glob("*/__main__.py")}
    return sorted(set(SERVICES) | found)


def exists(name: str) -> bool:
    return (ROOT / "services" / name / "__main__.py").exists()


def pending(name: str) -> bool:
    return name in PENDING and not exists(name)


@cache
def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{name}.settings")
    classes = [
        c for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, ServiceSettings) and c is not ServiceSettings and c.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"services/{name}/settings.py should define one settings class, found {classes}"
    return classes[0]


def port(name: str) -> int:
    default = settings_class(name).model_fields["port"].default
    if name in DEFAULT_PORTS:
        assert DEFAULT_PORTS[name] == default, f"{name}: launcher and settings disagree on the port"
    return default


def env_names(cls: type[ServiceSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    names = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(a for a in alias.choices if isinstance(a, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add((cls.model_config.get("env_prefix", "") + field_name).upper())
    return names


def all_env_names() -> set[str]:
    names = env_names(ServiceSettings)
    for name in code_services():
        names |= env_names(settings_class(name))
    # Where the others find a pending service, by the convention every service follows
    # (CC_<NAME>_URL); once it exists, the code must really read that name.
    names |= {f"CC_{name.upper()}_URL" for name in PENDING if pending(name)}
    return names


def url_env(name: str) -> str | None:
    """The variable the others read to find this service, if any does."""
    var = f"CC_{name.upper()}_URL"
    return var if var in all_env_names() else None


def get_routes(name: str) -> set[str]:
    """The GET route patterns of the service's app, built the way it runs (nothing started)."""
    app_module = importlib.import_module(f"services.{name}.app")
    app = app_module.create_app(settings_class(name)())
    return {
        route.resource.canonical
        for route in app.router.routes()
        if route.method in ("GET", "*") and route.resource is not None
    }
