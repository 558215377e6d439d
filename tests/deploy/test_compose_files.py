"""docker-compose.yml and docker-compose.cluster.yml keep their deployment promises (the GPU
profile and the cluster: test_compose_gpu_and_cluster.py).

No Docker engine runs here; the docker compose CLI resolves each file (`config`: anchors,
merges, interpolation, the compose schema) exactly as `docker compose up` would, and every
promise is checked on that resolved model.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from store import StoreSettings

from .compose_model import (
    ENV,
    FILES,
    PROJECT_VERSION,
    SINGLE,
    WEAVIATE_IMAGE,
    app_services,
    bind_mount,
    healthcheck_cmd,
    is_indexer,
    published,
    services,
    weaviate_nodes,
)
from .specs import (
    ROOT,
    ComposeConfigError,
    check_compose,
    container_env,
    env_of,
    load_compose,
    parse_dockerfile,
    required_env_names,
    settings_classes,
    settings_env_names,
    stage_args,
)


@pytest.mark.parametrize("name", FILES)
def test_every_image_is_pinned(name: str) -> None:
    for svc_name, svc in services(name).items():
        image = svc["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and "/" not in tag, f"{svc_name}: {image} has no tag"
        assert tag != "latest", f"{svc_name}: {image}"
        assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9]+)?", tag), (
            f"{svc_name}: {image} is not an exact version"
        )


@pytest.mark.parametrize("name", FILES)
def test_weaviate_image_is_the_embedded_version(name: str) -> None:
    nodes = weaviate_nodes(name)
    assert nodes
    assert {n["image"] for n in nodes.values()} == {WEAVIATE_IMAGE}


@pytest.mark.parametrize("name", FILES)
def test_app_images_are_this_version_built_from_this_dockerfile(name: str) -> None:
    for svc_name, svc in app_services(name).items():
        assert svc["image"].split(":")[0] == "digitbridge"
        assert svc["image"].split(":")[1].split("-")[0] == PROJECT_VERSION, svc_name
        assert svc["build"]["context"] == str(ROOT)  # "." next to the compose file
        assert svc["build"]["dockerfile"] == "Dockerfile"


@pytest.mark.parametrize("name", FILES)
def test_one_tag_means_one_build(name: str) -> None:
    """Services sharing an image tag build it with the same arguments."""
    by_tag: dict[str, list[Any]] = {}
    for svc in app_services(name).values():
        by_tag.setdefault(svc["image"], []).append(svc["build"])
    for tag, builds in by_tag.items():
        assert all(b == builds[0] for b in builds), tag


@pytest.mark.parametrize("name", FILES)
def test_cpu_services_build_without_pytorch_and_gpu_ones_with_cuda_pytorch(name: str) -> None:
    builder = parse_dockerfile().stages[0]
    for svc_name, svc in app_services(name).items():
        args = stage_args(builder, svc["build"].get("args", {}))
        if "gpu" in svc.get("profiles", []):
            assert args["TORCH_INDEX_URL"].startswith("https://download.pytorch.org/whl/cu"), svc_name
        else:
            assert args["TORCH_VARIANT"] == "none", svc_name


# ----------------------------------------------------------------- weaviate


@pytest.mark.parametrize("name", FILES)
def test_weaviate_is_not_published_on_the_host(name: str) -> None:
    for node_name, node in weaviate_nodes(name).items():
        assert "ports" not in node, node_name
        assert node.get("network_mode") != "host", node_name


@pytest.mark.parametrize("name", FILES)
def test_weaviate_settings(name: str) -> None:
    for node_name, node in weaviate_nodes(name).items():
        env = container_env(node)
        assert env["DISABLE_TELEMETRY"] == "true", node_name
        assert env["DEFAULT_VECTORIZER_MODULE"] == "none", node_name
        assert env["ENABLE_MODULES"] == "", node_name  # no modules at all...
        assert env["API_BASED_MODULES_DISABLED"] == "true", node_name  # ...API-based ones included
        assert env["GO_PROFILING_DISABLE"] == "true", node_name  # no debug server on :6060
        assert env["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "false", node_name
        assert env["AUTHENTICATION_APIKEY_ENABLED"] == "true", node_name
        assert env["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] == ENV["WEAVIATE_API_KEY"], node_name
        users = env["AUTHENTICATION_APIKEY_USERS"].split(",")
        assert len(users) == len(env["AUTHENTICATION_APIKEY_ALLOWED_KEYS"].split(",")), node_name
        assert env["AUTHORIZATION_ADMINLIST_USERS"].split(",") == users, node_name
        assert env["CLUSTER_HOSTNAME"], f"{node_name}: a stable node name keeps Raft state across re-creation"
        assert node["command"] == ["--host", "0.0.0.0", "--port", "8080", "--scheme", "http"]


@pytest.mark.parametrize("name", FILES)
def test_weaviate_data_lives_on_named_volumes(name: str) -> None:
    compose = load_compose(name, ENV)
    declared = set(compose["volumes"])
    used = []
    for node_name, node in weaviate_nodes(name).items():
        data_path = container_env(node)["PERSISTENCE_DATA_PATH"]
        mounts = {v["target"]: v for v in node["volumes"]}
        assert data_path in mounts, f"{node_name}: {data_path} is not a volume"
        mount = mounts[data_path]
        assert mount["type"] == "volume", f"{node_name}: {data_path} is a {mount['type']} mount"
        assert mount["source"] in declared, f"{node_name}: {mount['source']} is not a named volume"
        used.append(mount["source"])
    assert len(used) == len(set(used)), "each node needs its own volume"


@pytest.mark.parametrize("name", FILES)
def test_weaviate_healthcheck_is_readiness(name: str) -> None:
    for node_name, node in weaviate_nodes(name).items():
        cmd = healthcheck_cmd(node)
        assert "http://127.0.0.1:8080/v1/.well-known/ready" in cmd, node_name
        assert node["healthcheck"]["test"][0] == "CMD"
        assert "curl" not in cmd  # the Weaviate image is Alpine: busybox wget, no curl


@pytest.mark.parametrize("name", FILES)
def test_compose_accepts_the_file(name: str) -> None:
    check_compose(name, ENV)  # `docker compose config --quiet` exits 0


@pytest.mark.parametrize("name", FILES)
def test_api_key_is_required(name: str) -> None:
    for env in ({}, {"WEAVIATE_API_KEY": ""}):
        with pytest.raises(ComposeConfigError, match="WEAVIATE_API_KEY"):
            check_compose(name, env)
        with pytest.raises(ComposeConfigError, match="WEAVIATE_API_KEY"):
            load_compose(name, env)


# ----------------------------------------------------------------- indexer + api


@pytest.mark.parametrize("name", FILES)
def test_indexer_is_a_one_shot_job_after_weaviate_is_healthy(name: str) -> None:
    indexers = {k: s for k, s in app_services(name).items() if is_indexer(s)}
    assert indexers
    for svc_name, svc in indexers.items():
        deps = svc["depends_on"]
        nodes = weaviate_nodes(name)
        assert set(nodes) <= set(deps), svc_name
        assert all(deps[n]["condition"] == "service_healthy" for n in nodes), svc_name
        assert svc["restart"] == "no", svc_name
        assert svc["healthcheck"] == {"disable": True}, f"{svc_name}: the image HEALTHCHECK is the api's"
        assert "ports" not in svc


@pytest.mark.parametrize("name", FILES)
def test_api_waits_for_a_successful_index_and_is_published(name: str) -> None:
    apis = {k: s for k, s in app_services(name).items() if s["command"] == ["python", "-m", "launcher"]}
    all_services = services(name)
    assert apis
    for svc_name, svc in apis.items():
        indexer = [d for d in svc["depends_on"] if is_indexer(all_services[d])]
        assert len(indexer) == 1, svc_name
        assert svc["depends_on"][indexer[0]]["condition"] == "service_completed_successfully"
        assert svc["ports"] == [published("8000")], svc_name
        assert container_env(svc)["PORT"] == "8000"
        assert container_env(svc)["HOST"] == "0.0.0.0"
        assert svc["restart"] in {"unless-stopped", "always", "on-failure"}, svc_name
        cmd = healthcheck_cmd(svc)
        assert "/readyz" in cmd and "PORT" in cmd, svc_name
        # the GPU one must be the GPU indexer and vice versa
        gpu = "gpu" in svc.get("profiles", [])
        assert gpu == ("gpu" in all_services[indexer[0]].get("profiles", [])), svc_name


def test_api_port_and_device_come_from_the_environment() -> None:
    api = services(SINGLE, {**ENV, "API_PORT": "9000", "DEVICE": "cpu", "WORKERS": "3"})["api"]
    assert api["ports"] == [published("9000")]
    assert container_env(api)["DEVICE"] == "cpu"
    assert container_env(api)["WORKERS"] == "3"
    assert container_env(services(SINGLE)["api"])["DEVICE"] == "auto"


@pytest.mark.parametrize("name", FILES)
def test_data_folder_is_mounted_from_the_host(name: str) -> None:
    for svc_name, svc in app_services(name).items():
        if not is_indexer(svc):
            continue
        assert container_env(svc)["DATA_DIR"] == "/data"
        # default: ./data next to the file
        assert svc["volumes"] == [bind_mount(str(ROOT / "data"), "/data")], svc_name
        moved = services(name, {**ENV, "DATA_DIR": "/srv/digits"})[svc_name]
        assert moved["volumes"] == [bind_mount("/srv/digits", "/data")]


@pytest.mark.parametrize("name", FILES)
def test_app_containers_reach_weaviate_by_settings(name: str) -> None:
    for svc_name, svc in app_services(name).items():
        env = container_env(svc)
        assert env["WEAVIATE_URL"] == "http://weaviate:8080", svc_name
        assert env["WEAVIATE_GRPC_PORT"] == "50051"
        assert env["WEAVIATE_API_KEY"] == ENV["WEAVIATE_API_KEY"]


def _reads(svc: dict[str, Any]) -> tuple[set[str], set[str], list[type]]:
    """(env names the process reads, names it requires, its settings classes)."""
    classes = settings_classes("indexer" if is_indexer(svc) else "service")
    if not is_indexer(svc):
        from service.settings import ServiceSettings

        assert ServiceSettings in classes
    assert StoreSettings in classes
    names = set().union(*(settings_env_names(c) for c in classes))
    required = set().union(*(required_env_names(c) for c in classes))
    return names, required, classes


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in parse_dockerfile().final.all("ENV"):
        env.update(env_of(ins))
    return {k: v for k, v in env.items() if k != "PATH" and not k.startswith("PYTHON")}


@pytest.mark.parametrize("name", FILES)
def test_every_container_variable_is_a_setting_and_required_ones_are_set(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for svc_name, svc in app_services(name).items():
        names, required, classes = _reads(svc)
        # The image's ENV (HOST, PORT, CHECKPOINT, ...) is the service's default and is checked
        # against its settings below; here: what compose itself hands each process.
        env = {**_image_env(), **container_env(svc)}
        unknown = set(container_env(svc)) - names
        assert not unknown, f"{svc_name} sets variables no settings class reads: {sorted(unknown)}"
        missing = required - set(env)
        assert not missing, f"{svc_name} lacks required settings {sorted(missing)}"
        # ...and the values parse: build each settings class from exactly this environment.
        for key in names:  # a developer's own WEAVIATE_URL etc. must not leak in
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for cls in classes:
            settings = cls(_env_file=None)
            assert str(settings.weaviate_url) == "http://weaviate:8080/"
            assert settings.weaviate_api_key.get_secret_value() == ENV["WEAVIATE_API_KEY"]


def test_image_env_is_read_by_the_service() -> None:
    from service.settings import ServiceSettings

    assert set(_image_env()) <= settings_env_names(ServiceSettings)
