"""deploy/: the artefacts that cannot be built or run here, checked against their schemas.

* Kubernetes manifests: ``kubernetes-validate --strict`` (JSON schemas of the Kubernetes API
  bundled in the package, no network) plus the properties the engine relies on (probes on its
  own routes, preStop before the drain, a grace period longer than the drain, HPA on the
  metric the engine exports).
* The compose file: the compose-spec JSON schema shipped in the docker-compose 1.29.2 wheel,
  vendored as tests/schemas/compose-spec.json (no maintained package ships the current one).
* The Dockerfile: structural checks (no Dockerfile schema exists): non-root user, model
  assembly at build time, a HEALTHCHECK on /readyz.
* The Grafana dashboard: structure, and every PromQL series it reads is one the engine exports.
* The HAProxy configuration: ``haproxy -c`` when HAProxy is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tingshuo.core.paths import repo_root
from tingshuo.engine.config import load_config
from tingshuo.engine.metrics import Metrics

DEPLOY = repo_root() / "deploy"
kubernetes_validate = pytest.importorskip("kubernetes_validate.utils")


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [(path, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in k8s_documents() if d["kind"] == kind}


def test_kubernetes_manifests_pass_the_api_schema() -> None:
    docs = k8s_documents()
    kinds = {d["kind"] for _, d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    version = kubernetes_validate.latest_version()
    for path, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {exc}")
    broken = json.loads(json.dumps(by_kind("Deployment")["tingshuo-engine"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):  # the check does reject
        kubernetes_validate.validate(broken, version, strict=True)
    broken = json.loads(json.dumps(by_kind("Service")["tingshuo"]))
    broken["spec"]["portz"] = broken["spec"].pop("ports")
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: unknown fields fail
        kubernetes_validate.validate(broken, version, strict=True)


def test_engine_deployment_probes_drain_and_runs_as_non_root() -> None:
    engine = by_kind("Deployment")["tingshuo-engine"]
    pod = engine["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    env = {e["name"]: e for e in c["env"]}
    # environment names the engine's config loader really reads
    plain = {k: e["value"] for k, e in env.items() if "value" in e}
    config = load_config(env=plain)
    assert config.redis_url and config.security.trusted_proxies
    assert config.server.job_workers == 0  # the worker Deployment runs the jobs
    drain_s = config.server.shutdown_timeout_s
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + drain_s
    service = by_kind("Service")["tingshuo"]
    assert service["spec"]["selector"] == engine["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == c["ports"][0]["name"]
    pdb = by_kind("PodDisruptionBudget")["tingshuo-engine"]
    assert pdb["spec"]["selector"] == engine["spec"]["selector"]


def test_hpa_scales_the_engine_on_a_metric_it_exports() -> None:
    hpa = by_kind("HorizontalPodAutoscaler")["tingshuo-engine"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tingshuo-engine"
    (metric,) = hpa["spec"]["metrics"]
    name = metric["pods"]["metric"]["name"]
    assert name == "tingshuo_active_sessions" and name in exported_series()


def test_compose_file_passes_the_compose_spec_schema() -> None:
    schema = json.loads((repo_root() / "tests" / "schemas" / "compose-spec.json").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert [e.message for e in validator.iter_errors(compose)] == []
    services = compose["services"]
    assert {"proxy", "engine", "worker", "redis"} <= set(services)
    assert services["engine"]["deploy"]["replicas"] >= 2
    assert services["worker"]["command"] == ["tingshuo", "worker"]
    engine_env = load_config(env=services["engine"]["environment"])
    assert engine_env.server.job_workers == 0 and engine_env.redis_url.startswith("redis://")
    assert services["proxy"]["depends_on"]["engine"]["condition"] == "service_healthy"
    mount = services["proxy"]["volumes"][0].split(":")[0]
    assert (DEPLOY / mount).resolve() == DEPLOY / "haproxy" / "haproxy.cfg"
    for bad in ({"engine": {"deploy": {"replicas": "two"}}}, {"engine": {"imagee": "x"}}):
        assert list(validator.iter_errors({"services": bad})), bad  # the schema does reject


def test_dockerfile_is_non_root_assembles_models_and_checks_readiness() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)  # continuation lines
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]
    stages = [i for i, ln in enumerate(lines) if ln.startswith("FROM ")]
    assert len(stages) == 2, "a build stage and a slim runtime stage"
    final = lines[stages[-1] :]
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    build = lines[: stages[-1]]
    assert any("Services.load" in ln and ".warm()" in ln for ln in build if ln.startswith("RUN "))
    assert any("-c constraints.txt" in ln for ln in build), "the CPU torch pin"
    health = [ln for ln in final if ln.startswith("HEALTHCHECK ")]
    assert len(health) == 1 and "/readyz" in health[0]
    for pkg in ("core", "asr", "tts", "dialog", "joint_training", "engine"):
        assert f"COPY {pkg} {pkg}" in lines, pkg
    assert lines[-1].startswith("CMD ") and "serve" in lines[-1]


def exported_series() -> set[str]:
    """Every series name the engine's /metrics can show (counters with _total, histograms...)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",),
        }[family.type]
        names |= {family.name + s for s in suffixes}
    return names


def test_grafana_dashboard_reads_only_series_the_engine_exports() -> None:
    dash = json.loads((DEPLOY / "grafana" / "tingshuo-dashboard.json").read_text())
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    panels = dash["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    exported = exported_series()
    used: set[str] = set()
    for p in panels:
        assert (
            set(p["gridPos"]) == {"x", "y", "w", "h"}
            and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        )
        for target in p["targets"]:
            series = set(re.findall(r"\btingshuo_[a-z_]+", target["expr"]))
            assert series and series <= exported, (p["title"], series - exported)
            assert target["expr"].count("(") == target["expr"].count(")")
            used |= series
    # what the issue asks the dashboard to show
    for needed in (
        "tingshuo_active_sessions",
        "tingshuo_stage_seconds_bucket",
        "tingshuo_queue_depth",
        "tingshuo_errors_total",
        "tingshuo_cache_hits_total",
        "tingshuo_cache_misses_total",
    ):
        assert needed in used, needed
    stage_panel = next(p for p in panels if p["title"] == "Stage latency p95")
    assert "by (le, stage)" in stage_panel["targets"][0]["expr"]


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed")
def test_haproxy_configuration_is_valid() -> None:
    cfg = DEPLOY / "haproxy" / "haproxy.cfg"
    run = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
