"""The production files in deploy/production can't be started here (no Docker engine, no cluster), so
these tests check what goes wrong without one: YAML that doesn't parse, files a compose service
mounts or builds from that don't exist, service modules that don't exist, settings names the services
never read (a typo there fails silently in production: the default wins), values the settings
classes reject, and probes that don't hit /health."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from deploy import cli
from services.kit.settings import PlatformSettings, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
PROD = ROOT / "deploy" / "production"
K8S = PROD / "kubernetes"
SERVICES = ("intake", "casework", "funding", "reporting")
#: Processes the files run: the four services and the staff web application (no database of its own).
APPS = (*SERVICES, "web")
PREFIXES = ("ANKOMMEN_", "INTAKE_", "CASEWORK_", "FUNDING_", "REPORTING_", "WEB_")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}")
YAML_FILES = sorted([*PROD.rglob("*.yaml"), *PROD.rglob("*.yml")])


# ---- helpers ------------------------------------------------------------------------------------


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def compose() -> dict[str, Any]:
    return yaml.safe_load((PROD / "compose.yaml").read_text(encoding="utf-8"))


def k8s_docs() -> list[dict[str, Any]]:
    """The Kubernetes objects (kustomization.yaml is kustomize's own file, not an object)."""
    return [doc for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml" for doc in load_all(path)]


def dockerfile_instructions() -> list[str]:
    """Instructions with their continuation lines joined, comments dropped."""
    lines = [ln for ln in (PROD / "Dockerfile").read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("#")]
    return [" ".join(i.split()) for i in "\n".join(lines).replace("\\\n", " ").splitlines() if i.strip()]


def k8s_of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_docs() if doc.get("kind") == kind]


def service_settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    classes = [
        c for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, ServiceSettings) and c is not ServiceSettings
    ]
    assert len(classes) == 1, f"services/{service}/settings.py should define one settings class"
    return classes[0]


def env_names_of(cls: type[BaseSettings]) -> set[str]:
    """The environment names pydantic-settings reads for a class: prefix + field name, or the
    field's validation aliases when it has some (the prefix is not applied to aliases)."""
    prefix = cls.model_config.get("env_prefix", "")
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(c.upper() for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def known_env_names() -> set[str]:
    names = env_names_of(PlatformSettings)
    for svc in APPS:
        names |= env_names_of(service_settings_class(svc))
    return names


def unknown_settings(names: set[str]) -> set[str]:
    """Names that look like ankommen settings but that no settings class reads."""
    known = known_env_names()
    return {n for n in names if n.upper().startswith(PREFIXES) and n.upper() not in known}


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def interpolate(value: str) -> str:
    """Compose interpolation with a stand-in for every variable that has no default."""

    def sub(m: re.Match[str]) -> str:
        return m.group(3) if m.group(2) == "-" else "secret-value"

    return INTERPOLATION.sub(sub, value)


def command_module(command: list[str] | str | None) -> str | None:
    """`python -m services.X` -> services.X."""
    parts = command.split() if isinstance(command, str) else list(command or [])
    if "-m" in parts and parts[0].startswith("python"):
        return parts[parts.index("-m") + 1]
    return None


def app_services() -> dict[str, tuple[str, dict[str, Any]]]:
    """Compose services that run one of the four ankommen services: module name -> (compose name, spec)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, spec in compose()["services"].items():
        module = command_module(spec.get("command"))
        if module is not None:
            out[module.removeprefix("services.")] = (name, spec)
    return out


def deployments() -> dict[str, dict[str, Any]]:
    """Kubernetes Deployments by the service module their container runs."""
    out: dict[str, dict[str, Any]] = {}
    for doc in k8s_of_kind("Deployment"):
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        module = command_module(container.get("command"))
        assert module is not None, f"{doc['metadata']['name']} does not run `python -m services.<name>`"
        out[module.removeprefix("services.")] = doc
    return out


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = doc["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def env_names_used() -> Iterator[tuple[str, str]]:
    """(file, variable name) for every environment variable the deployment files set or read."""
    for name, spec in compose()["services"].items():
        for key in environment_of(spec):
            yield f"compose.yaml:{name}", key
    for m in INTERPOLATION.finditer((PROD / "compose.yaml").read_text(encoding="utf-8")):
        yield "compose.yaml (interpolation)", m.group(1)
    for line in (PROD / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            yield ".env.example", line.split("=", 1)[0].strip()
    for instruction in dockerfile_instructions():
        if instruction.startswith("ENV "):
            for m in re.finditer(r"(?:^ENV|\s)([A-Za-z_][A-Za-z0-9_]*)=", instruction):
                yield "Dockerfile", m.group(1)
    for doc in k8s_docs():
        where = f"kubernetes {doc['kind']} {doc['metadata']['name']}"
        if doc["kind"] == "ConfigMap":
            for key in doc.get("data", {}):
                yield where, key
        if doc["kind"] == "Secret":
            for key in {**doc.get("data", {}), **doc.get("stringData", {})}:
                yield where, key
        if doc["kind"] in ("Deployment", "Job"):
            for c in containers(doc):
                for e in c.get("env", []):
                    yield where, e["name"]


# ---- tests --------------------------------------------------------------------------------------


class TestFilesParse:
    def test_the_production_files_are_there(self) -> None:
        expected = {"compose.yaml", "otel-collector.yaml", "Dockerfile", ".env.example", "kubernetes/kustomization.yaml"}
        assert {p for p in expected if not (PROD / p).exists()} == set()

    @pytest.mark.parametrize("path", YAML_FILES, ids=[str(p.relative_to(PROD)) for p in YAML_FILES])
    def test_every_yaml_file_parses(self, path: Path) -> None:
        docs = load_all(path)

        assert docs and all(isinstance(d, dict) for d in docs)

    @pytest.mark.parametrize("doc", k8s_docs(), ids=lambda d: f"{d.get('kind')}-{d.get('metadata', {}).get('name')}")
    def test_every_kubernetes_document_names_its_kind(self, doc: dict[str, Any]) -> None:
        assert doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name")


class TestSettingsNames:
    def test_every_ankommen_setting_in_the_files_is_read_by_a_settings_class(self) -> None:
        used = {(where, name) for where, name in env_names_used()}
        unknown = unknown_settings({name for _, name in used})

        assert sorted((w, n) for w, n in used if n in unknown) == []

    def test_the_otlp_endpoint_alias_is_accepted(self) -> None:
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in known_env_names()

    def test_a_misspelt_setting_is_caught(self) -> None:
        assert unknown_settings({"CASEWORK_DATABASE_URI", "ANKOMMEN_REDIS_URI", "CASEWORK_DATABASE_URL"}) == {
            "CASEWORK_DATABASE_URI", "ANKOMMEN_REDIS_URI",
        }

    def test_the_files_set_the_infrastructure_settings(self) -> None:
        used = {name for _, name in env_names_used()}
        wanted = {
            "ANKOMMEN_REDIS_URL", "ANKOMMEN_TEMPORAL_ADDRESS", "ANKOMMEN_TEMPORAL_NAMESPACE", "ANKOMMEN_TENANT",
            "ANKOMMEN_OIDC_ISSUER", "ANKOMMEN_OIDC_JWKS_URL", "ANKOMMEN_OIDC_AUDIENCE", "ANKOMMEN_OIDC_ROLES_CLAIM",
            "ANKOMMEN_AUTH_SECRET", "OTEL_EXPORTER_OTLP_ENDPOINT", *(f"{s.upper()}_DATABASE_URL" for s in SERVICES),
        }
        assert wanted - used == set()


class TestDockerfile:
    def test_it_builds_from_python_311_slim_with_the_pinned_dependencies(self) -> None:
        text = (PROD / "Dockerfile").read_text(encoding="utf-8")

        assert re.search(r"^FROM python:3\.11-slim\s*$", text, re.M)
        assert "pip install -c requirements.lock ." in text

    def test_what_it_copies_exists(self) -> None:
        copies = [i.split()[1:-1] for i in dockerfile_instructions() if i.startswith("COPY ")]
        sources = [src for args in copies for src in args if not src.startswith("--")]

        assert sources and [s for s in sources if not (ROOT / s).exists()] == []

    def test_the_readme_the_package_metadata_names_is_copied(self) -> None:
        readme = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["readme"]

        assert re.search(rf"^COPY\s.*\b{re.escape(readme)}\b", (PROD / "Dockerfile").read_text(encoding="utf-8"), re.M)


class TestCompose:
    def test_the_infrastructure_is_there(self) -> None:
        images = {name: spec.get("image", "") for name, spec in compose()["services"].items()}

        assert images["redis"].startswith("redis:7")
        assert images["postgres"].startswith("postgres:16")
        assert images["temporal"].startswith("temporalio/auto-setup:")
        assert images["temporal-ui"].startswith("temporalio/ui:")
        assert images["otel-collector"].startswith("otel/opentelemetry-collector")
        assert images["jaeger"].startswith("jaegertracing/")

    def test_redis_keeps_an_append_only_file(self) -> None:
        command = compose()["services"]["redis"]["command"]

        assert command[command.index("--appendonly") + 1] == "yes"

    def test_every_service_runs_exactly_once(self) -> None:
        assert sorted(app_services()) == sorted(APPS)

    @pytest.mark.parametrize("service", APPS)
    def test_the_module_a_service_runs_exists(self, service: str) -> None:
        name, spec = app_services()[service]
        module = command_module(spec["command"])

        assert module == f"services.{service}"
        assert importlib.util.find_spec(f"{module}.__main__") is not None

    def test_builds_use_a_dockerfile_that_exists(self) -> None:
        builds = [spec["build"] for spec in compose()["services"].values() if "build" in spec]
        missing = [b for b in builds if not (PROD / b["context"] / b.get("dockerfile", "Dockerfile")).resolve().is_file()]

        assert builds and missing == []

    def test_mounted_files_exist(self) -> None:
        sources = [
            v.split(":", 1)[0] if isinstance(v, str) else v["source"]
            for spec in compose()["services"].values()
            for v in spec.get("volumes", [])
        ]
        local = [s for s in sources if s.startswith((".", "/"))]

        assert local and [s for s in local if not (PROD / s).resolve().exists()] == []

    def test_depends_on_names_defined_services(self) -> None:
        services = compose()["services"]
        deps = {d for spec in services.values() for d in (spec.get("depends_on") or [])}

        assert deps - set(services) == set()

    def test_migrate_runs_the_migrate_command_with_every_database(self) -> None:
        migrate = compose()["services"]["migrate"]
        env = environment_of(migrate)

        assert migrate["command"] == ["ankommen", "migrate"]
        assert {f"{s.upper()}_DATABASE_URL" for s in SERVICES} <= set(env)

    def test_the_ankommen_command_has_a_migrate_subcommand(self) -> None:
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]

        assert scripts["ankommen"] == "deploy.cli:main"
        assert cli.parser().parse_args(["migrate"]).func is cli.cmd_migrate

    @pytest.mark.parametrize("service", SERVICES)
    def test_a_service_starts_after_the_migrations(self, service: str) -> None:
        _, spec = app_services()[service]

        assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    @pytest.mark.parametrize("service", SERVICES)
    def test_a_service_gets_only_its_own_database(self, service: str) -> None:
        _, spec = app_services()[service]
        urls = {k for k in environment_of(spec) if k.endswith("_DATABASE_URL")}

        assert urls == {f"{service.upper()}_DATABASE_URL"}

    @pytest.mark.parametrize("service", SERVICES)
    def test_the_environment_is_valid_for_the_settings_classes(self, service: str, monkeypatch: pytest.MonkeyPatch) -> None:
        _, spec = app_services()[service]
        env = {k: interpolate(v) for k, v in environment_of(spec).items()}
        _isolate_env(monkeypatch, env)

        platform = PlatformSettings()
        settings = service_settings_class(service)()

        assert platform.redis_url.startswith("redis://")
        assert platform.otlp_endpoint == "http://otel-collector:4318"
        assert settings.host == "0.0.0.0"
        assert settings.database_url.startswith("postgresql+asyncpg://")
        assert f"127.0.0.1:{settings.port}:{settings.port}" in spec["ports"]
        assert f"http://127.0.0.1:{settings.port}/health" in " ".join(spec["healthcheck"]["test"])

    @pytest.mark.parametrize("service", SERVICES)
    def test_the_database_a_service_uses_is_created_by_the_init_script(self, service: str) -> None:
        _, spec = app_services()[service]
        database = environment_of(spec)[f"{service.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
        script = (PROD / "postgres-init" / "10-ankommen-databases.sh").read_text(encoding="utf-8")

        assert re.search(rf"^create_service_database {re.escape(database)}\s", script, re.M)

    def test_the_init_script_is_mounted_into_postgres(self) -> None:
        volumes = compose()["services"]["postgres"]["volumes"]

        assert any(v.endswith(":/docker-entrypoint-initdb.d/10-ankommen-databases.sh:ro") for v in volumes)

    def test_traces_go_to_the_collectors_http_receiver(self) -> None:
        collector = yaml.safe_load((PROD / "otel-collector.yaml").read_text(encoding="utf-8"))
        endpoint = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        mounts = compose()["services"]["otel-collector"]["volumes"]

        assert endpoint.endswith(":4318")
        assert any(m.startswith("./otel-collector.yaml:") for m in mounts)


class TestCollector:
    def test_the_pipeline_names_defined_components(self) -> None:
        config = yaml.safe_load((PROD / "otel-collector.yaml").read_text(encoding="utf-8"))
        traces = config["service"]["pipelines"]["traces"]

        assert traces["receivers"] == ["otlp"]
        assert "batch" in traces["processors"]
        assert set(traces["processors"]) <= set(config["processors"])
        assert set(traces["exporters"]) <= set(config["exporters"])
        assert set(config["service"].get("extensions", [])) <= set(config.get("extensions", {}))

    def test_the_exporter_reaches_jaeger_in_compose(self) -> None:
        config = yaml.safe_load((PROD / "otel-collector.yaml").read_text(encoding="utf-8"))
        hosts = {e["endpoint"].split(":")[0] for e in config["exporters"].values()}

        assert hosts <= set(compose()["services"])


class TestKubernetes:
    def test_kustomization_resources_exist(self) -> None:
        resources = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))["resources"]

        assert [r for r in resources if not (K8S / r).exists()] == []

    def test_every_service_has_one_deployment(self) -> None:
        assert sorted(deployments()) == sorted(APPS)

    @pytest.mark.parametrize("service", APPS)
    def test_the_module_a_deployment_runs_exists(self, service: str) -> None:
        (container,) = deployments()[service]["spec"]["template"]["spec"]["containers"]

        assert importlib.util.find_spec(f"{command_module(container['command'])}.__main__") is not None

    @pytest.mark.parametrize("service", APPS)
    def test_probes_use_health(self, service: str) -> None:
        (container,) = deployments()[service]["spec"]["template"]["spec"]["containers"]
        probes = {k: v for k, v in container.items() if k.endswith("Probe")}

        assert {"readinessProbe", "livenessProbe"} <= set(probes)
        assert {k: p["httpGet"]["path"] for k, p in probes.items()} == {k: "/health" for k in probes}

    @pytest.mark.parametrize("service", APPS)
    def test_probes_and_service_hit_the_port_the_process_listens_on(self, service: str) -> None:
        doc = deployments()[service]
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probe_ports = {p["httpGet"]["port"] for k, p in container.items() if k.endswith("Probe")}
        (svc,) = [s for s in k8s_of_kind("Service") if s["metadata"]["name"] == doc["metadata"]["name"]]

        assert int(env[f"{service.upper()}_PORT"]) == ports["http"] == service_settings_class(service)().port
        assert env[f"{service.upper()}_HOST"] == "0.0.0.0"
        assert probe_ports == {"http"}
        assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"]
        assert svc["spec"]["selector"].items() <= doc["spec"]["template"]["metadata"]["labels"].items()
        assert doc["spec"]["selector"]["matchLabels"].items() <= doc["spec"]["template"]["metadata"]["labels"].items()

    @pytest.mark.parametrize("service", SERVICES)
    def test_env_comes_from_the_configmap_and_the_secret(self, service: str) -> None:
        (container,) = deployments()[service]["spec"]["template"]["spec"]["containers"]
        configmaps = {c["metadata"]["name"] for c in k8s_of_kind("ConfigMap")}
        refs = {e["configMapRef"]["name"] for e in container["envFrom"]}
        secret_keys = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}

        assert refs and refs <= configmaps
        assert secret_keys[f"{service.upper()}_DATABASE_URL"]["key"] == f"{service.upper()}_DATABASE_URL"
        assert {k for k in secret_keys if k.endswith("_DATABASE_URL")} == {f"{service.upper()}_DATABASE_URL"}

    def test_secret_references_name_keys_of_the_example_secret(self) -> None:
        (secret,) = load_all(K8S / "secret.example.yaml")
        keys = set(secret["stringData"])
        refs = {
            (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for doc in [*k8s_of_kind("Deployment"), *k8s_of_kind("Job")]
            for c in containers(doc)
            for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }

        assert refs and {(n, k) for n, k in refs if n != secret["metadata"]["name"] or k not in keys} == set()

    def test_the_configmap_is_valid_for_the_platform_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        (configmap,) = k8s_of_kind("ConfigMap")
        _isolate_env(monkeypatch, {k: str(v) for k, v in configmap["data"].items()})

        platform = PlatformSettings()

        assert platform.environment == "production"
        assert platform.otlp_endpoint and platform.otlp_endpoint.startswith("http")

    def test_a_job_runs_the_migrations_with_every_database(self) -> None:
        (job,) = k8s_of_kind("Job")
        (container,) = job["spec"]["template"]["spec"]["containers"]

        assert container["command"] == ["ankommen", "migrate"]
        assert {f"{s.upper()}_DATABASE_URL" for s in SERVICES} <= {e["name"] for e in container["env"]}


class TestWebApplication:
    """The staff web application in production: OIDC sign-in, secure cookies, the services' addresses,
    no database of its own."""

    def test_compose_environment_is_valid_for_the_web_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from services.web.settings import WebSettings

        _, spec = app_services()["web"]
        _isolate_env(monkeypatch, {k: interpolate(v) for k, v in environment_of(spec).items()})
        settings = WebSettings()
        services = compose()["services"]

        assert settings.sign_in == "oidc" and settings.cookie_secure is True and settings.host == "0.0.0.0"
        assert PlatformSettings().oidc_issuer
        assert {k for k in environment_of(spec) if k.endswith("_DATABASE_URL")} == set()
        for svc, url in settings.service_urls().items():
            port = service_settings_class(svc)().port
            assert url == f"http://{svc}:{port}" and svc in services
        assert f"http://127.0.0.1:{settings.port}/health" in " ".join(spec["healthcheck"]["test"])

    def test_kubernetes_environment_is_valid_for_the_web_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from services.web.settings import WebSettings

        (container,) = deployments()["web"]["spec"]["template"]["spec"]["containers"]
        (configmap,) = k8s_of_kind("ConfigMap")
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        _isolate_env(monkeypatch, {**{k: str(v) for k, v in configmap["data"].items()}, **env})
        settings = WebSettings()
        k8s_services = {s["metadata"]["name"]: s for s in k8s_of_kind("Service")}

        assert settings.sign_in == "oidc" and settings.cookie_secure is True
        for svc, url in settings.service_urls().items():
            port = service_settings_class(svc)().port
            assert url == f"http://ankommen-{svc}:{port}"
            assert [p["port"] for p in k8s_services[f"ankommen-{svc}"]["spec"]["ports"]] == [port]


def _isolate_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Only `env` is visible to the settings classes (nothing from the shell that runs the tests)."""
    for key in list(os.environ):
        if key.upper().startswith(PREFIXES) or key.upper().startswith("OTEL_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
