"""The Kubernetes manifests parse and agree with the code: image/module, env the code reads, config keys
the loader accepts, volumes that exist; and VIDGEN_EXECUTOR=k8s selects the k8s job executor."""

from __future__ import annotations

from pathlib import Path

import yaml

from vidgen_dagster.core.config import _merge, load_defaults
from vidgen_dagster.definitions import build_definitions

K8S = Path(__file__).resolve().parents[1] / "k8s"


def docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def test_helm_values_point_at_the_code_location_and_volumes():
    (values,) = docs("values.yaml")
    (dep,) = values["dagster-user-deployments"]["deployments"]
    assert dep["dagsterApiGrpcArgs"] == ["-m", "vidgen_dagster.definitions"]
    env = {e["name"]: e["value"] for e in dep["env"]}
    assert env["VIDGEN_EXECUTOR"] == "k8s" and env["VIDGEN_HOME"].startswith("/data")
    claims = {v["persistentVolumeClaim"]["claimName"] for v in dep["volumes"] if "persistentVolumeClaim" in v}
    storage = {d["metadata"]["name"]: d for d in docs("storage.yaml")}
    assert claims <= set(storage)
    assert all(storage[c]["spec"]["accessModes"] == ["ReadWriteMany"] for c in claims)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runRetries"]["enabled"] is True
    assert "vidgen_dagster.definitions" in (K8S / "Dockerfile").read_text()


def test_cluster_config_is_valid_and_points_at_the_vllm_services():
    config_map = next(d for d in docs("storage.yaml") if d["kind"] == "ConfigMap")
    user = yaml.safe_load(config_map["data"]["vidgen.yaml"])
    merged = _merge(load_defaults(), user)  # unknown keys would raise ConfigError
    services = {d["metadata"]["name"] for d in docs("vllm.yaml") if d["kind"] == "Service"}
    for section in ("captions", "judge"):
        assert merged[section]["backend"] == "openai"
        host = merged[section]["openai_base_url"].split("//")[1].split(":")[0]
        assert host in services
    served = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["args"][1]
              for d in docs("vllm.yaml") if d["kind"] == "Deployment"}
    assert served["vllm-captioner"] == merged["captions"]["openai_model"]
    assert served["vllm-judge"] == merged["judge"]["openai_model"]


def test_k8s_executor_is_selected_by_environment(home, monkeypatch):
    monkeypatch.setenv("VIDGEN_EXECUTOR", "k8s")
    job = build_definitions(str(home)).resolve_job_def("curate_shard")
    assert job.executor_def.name == "k8s"
    monkeypatch.delenv("VIDGEN_EXECUTOR")
    assert build_definitions(str(home)).resolve_job_def("curate_shard").executor_def.name == "in_process"
