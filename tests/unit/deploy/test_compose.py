"""deploy/compose.yaml: a laptop's whole system. ``docker compose config`` checks it where a Compose
is installed (the plugin or the standalone docker-compose; neither needs a running engine); the YAML
itself is checked against the code everywhere."""

import shutil
import subprocess

import pytest
import yaml

from tests.unit.deploy.code_facts import ROOT, all_env_names, code_services, exists, pending, port, url_env

COMPOSE = ROOT / "deploy" / "compose.yaml"


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_config_accepts_the_file():
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose here; the file's contents are checked by the other tests")
    result = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_service_with_its_infrastructure():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "postgres" in services[("postgres")]["image"]
    assert "management" in services["rabbitmq"]["image"]
    assert "mailpit" in services["mail"]["image"]
    running = {s["command"][2].removeprefix("services."): s for s in services.values() if s.get("command", [])[:2] == ["python", "-m"]}
    for name in code_services():
        assert name in running, f"compose does not run services.{name}"
        assert f"127.0.0.1:{port(name)}/" in str(running[name].get("healthcheck", {}).get("test")), name
    for name in running:
        assert exists(name) or pending(name), f"compose runs services.{name}, which does not exist"
    assert services["gateway"]["ports"] == ["127.0.0.1:8080:8080"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published & set(running) == {"gateway"}, "only the gateway is published"
    assert "migrate" in services["setup"]["command"][-1]


def test_every_variable_compose_sets_is_a_setting_in_the_code():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    ours = [s for s in services.values() if s.get("image", "").startswith("customer-center")]
    named = {key for s in ours for key in s.get("environment", {})}
    assert {n for n in named if n.startswith("CC_")} - all_env_names() - {"CC_DEMO_ADMIN_KEY"} == set()
    for name in code_services():
        if url_env(name) and name != "gateway":
            assert services[name]["environment"][url_env(name)] == f"http://{name}:{port(name)}", name


def test_only_auth_and_notify_get_the_link_keys():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    having = {name for name, s in services.items() if "CC_LINK_KEYS" in s.get("environment", {})}
    assert having == {"auth", "notify"}
