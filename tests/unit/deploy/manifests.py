"""Rendering the kustomize overlays exactly as ``kubectl kustomize`` does: with kubectl itself
(its built-in kustomize), which the project's machines carry (Debian package ``kubectl``)."""

import shutil
import subprocess
from functools import cache

import pytest
import yaml

from tests.unit.deploy.code_facts import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod", "prod-in-cluster")


@cache
def render(overlay: str) -> tuple[dict, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render the kustomize overlays (apt-get install kubectl)")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(objects, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def service_deployments(objects) -> dict[str, dict]:
    """Deployments that run one of our services (``python -m services.<name>``), by service name."""
    found = {}
    for name, deployment in of_kind(objects, "Deployment").items():
        command = container(deployment).get("command", [])
        if command[:2] == ["python", "-m"] and command[2].startswith("services."):
            found[command[2].removeprefix("services.")] = deployment
    return found
