"""The kustomize overlays render, validate against the Kubernetes schemas offline, and name only
services, ports, probe paths and settings that exist in the code."""

import re

import kubernetes_validate
import pytest

from tests.unit.deploy.code_facts import PENDING, all_env_names, code_services, exists, get_routes, pending, port, url_env
from tests.unit.deploy.manifests import OVERLAYS, container, of_kind, render, service_deployments

# The oldest Kubernetes we support and the newest the schemas know.
VERSIONS = ("1.30", kubernetes_validate.latest_version())
# Custom resources of the optional operators: no Kubernetes schema; checked for their essentials.
CUSTOM = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): ("replicas",),
    ("postgresql.cnpg.io/v1", "Cluster"): ("instances", "storage"),
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(overlay):
    objects = render(overlay)
    assert len(objects) > 30
    errors = []
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        if key in CUSTOM:
            missing = [f for f in CUSTOM[key] if f not in obj.get("spec", {})]
            errors += [f"{obj['kind']}/{obj['metadata']['name']}: spec.{f} missing" for f in missing]
            continue
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} ({version}): {exc.message} at {list(exc.path)}")
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']}: no schema for {key} in {version}")
    assert errors == []
    assert all(o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_in_the_code_runs_with_its_port_probes_and_a_service(overlay):
    objects = render(overlay)
    deployments = service_deployments(objects)
    services = of_kind(objects, "Service")
    config = _config(objects)
    for name in code_services():
        assert name in deployments, f"no Deployment runs services.{name}"
        c = container(deployments[name])
        (http,) = [p for p in c["ports"] if p["name"] == "http"]
        assert http["containerPort"] == port(name), name
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        routes = get_routes(name)
        assert {"/readyz", "/healthz", "/metrics"} <= routes, f"{name} serves {sorted(routes)}"
        assert deployments[name]["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port(name))
        service = services[name]
        assert service["spec"]["selector"] == {"app.kubernetes.io/name": name}
        assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port(name), "http")]
        if url_env(name) and name != "gateway":
            assert config.get(url_env(name)) == f"http://{name}:{port(name)}", f"{url_env(name)} in cc-config"
    for name in PENDING:
        if pending(name):
            assert config[f"CC_{name.upper()}_URL"] == f"http://{name}:{PENDING[name][1]}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_named_in_the_manifests_exists_in_the_code(overlay):
    for name, deployment in service_deployments(render(overlay)).items():
        if pending(name):
            assert container(deployment)["ports"][0]["containerPort"] == PENDING[name][1]
            continue
        assert exists(name) or name == "cli", f"the manifests run services.{name}, which does not exist"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_environment_variable_in_the_manifests_is_a_setting_in_the_code(overlay):
    objects = render(overlay)
    named = set(_config(objects))
    for kind in ("Deployment", "Job"):
        for obj in of_kind(objects, kind).values():
            c = container(obj)
            if not c.get("command", [""])[-1].startswith("services.") and c.get("command", [])[:3] != ["python", "-m", "services.cli"]:
                continue  # dev PostgreSQL, RabbitMQ, Mailpit: their own variables
            for env in c.get("env", []):
                named.add(env["name"])
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    named.add(ref["key"])
    for secret in of_kind(objects, "Secret").values():
        named |= set(secret.get("data", {})) | set(secret.get("stringData", {}))
    assert {n for n in named if n.startswith("CC_")} - all_env_names() == set()
    assert {"CC_DATABASE_URL", "CC_AMQP_URL"} <= named


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened_and_sized(overlay):
    objects = render(overlay)
    pods = [d["spec"]["template"] for d in service_deployments(objects).values()]
    pods += [j["spec"]["template"] for j in of_kind(objects, "Job").values()]
    for pod in pods:
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and "memory" in c["resources"]["limits"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers_disruption_budgets_and_the_migration_job(overlay):
    objects = render(overlay)
    deployments = service_deployments(objects)
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {"gateway", "billing", "notify"}
    for hpa in hpas.values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in of_kind(objects, "Deployment")
        assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for b in of_kind(objects, "PodDisruptionBudget").values()}
    assert set(deployments) <= budgets
    (job,) = of_kind(objects, "Job").values()
    assert container(job)["command"] == ["python", "-m", "services.cli", "migrate"]
    for deployment in deployments.values():
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > float(_config(objects)["CC_SHUTDOWN_TIMEOUT"]) * 3 + 5, "the grace period covers a clean stop"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_takes_traffic_from_outside(overlay):
    objects = render(overlay)
    policies = list(of_kind(objects, "NetworkPolicy").values())
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"], "a default-deny ingress policy"
    open_to_all = [p for p in policies if any("from" not in rule for rule in p["spec"].get("ingress", []))]
    assert [p["spec"]["podSelector"] for p in open_to_all] == [{"matchLabels": {"app.kubernetes.io/name": "gateway"}}]
    for policy in policies:  # every other rule names who may come in
        for rule in policy["spec"].get("ingress", []):
            if policy not in open_to_all:
                assert rule["from"], policy["metadata"]["name"]
    for service in of_kind(objects, "Service").values():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", "no NodePort or LoadBalancer: ingress goes through the gateway"
    for ingress in of_kind(objects, "Ingress").values():
        backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
        assert backends == {"gateway"}


def test_prod_keeps_no_secret_and_takes_connections_from_a_secret():
    objects = render("prod")
    assert of_kind(objects, "Secret") == {}
    for name, deployment in service_deployments(objects).items():
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container(deployment).get("env", []) if "valueFrom" in e}
        if name != "gateway":
            assert refs.get("CC_DATABASE_URL") == "cc-secrets" and refs.get("CC_AMQP_URL") == "cc-secrets", name
    assert not {"postgres", "rabbitmq"} & set(of_kind(objects, "Deployment")), "prod uses external PostgreSQL and RabbitMQ"
    in_cluster = render("prod-in-cluster")
    assert {o["kind"] for o in in_cluster} >= {"RabbitmqCluster", "Cluster"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_auth_and_notify_get_the_link_keys_and_from_the_secret(overlay):
    for name, deployment in service_deployments(render(overlay)).items():
        env = {e["name"]: e for e in container(deployment).get("env", [])}
        if name in ("auth", "notify"):
            ref = env["CC_LINK_KEYS"]["valueFrom"]["secretKeyRef"]
            assert ref["name"].startswith("cc-secrets") and ref["key"] == "CC_LINK_KEYS" and not ref.get("optional"), name
        else:
            assert "CC_LINK_KEYS" not in env, f"{name} has no use for the link keys"


def test_dev_runs_its_own_postgres_rabbitmq_and_mail_catcher():
    objects = render("dev")
    assert {"postgres", "rabbitmq", "mail"} <= set(of_kind(objects, "Deployment"))
    assert "rabbitmq:3" in container(of_kind(objects, "Deployment")["rabbitmq"])["image"]
    assert "management" in container(of_kind(objects, "Deployment")["rabbitmq"])["image"]
    config = _config(objects)
    assert config["CC_SMTP_HOST"] in of_kind(objects, "Service")
    (secret,) = of_kind(objects, "Secret").values()
    assert re.match(r"cc-secrets-\w+$", secret["metadata"]["name"])


def _config(objects) -> dict[str, str]:
    (config,) = [c for name, c in of_kind(objects, "ConfigMap").items() if name.startswith("cc-config")]
    return config["data"]
