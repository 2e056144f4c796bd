"""The deployment files, checked as far as they can be without a Docker engine: docker-compose.yml
parses and wires the services the design names, with health checks, pinned supported images,
loopback-only ports and secrets only from .env; deploy/dagster.yaml and workspace.yaml carry no
credentials and point at PostgreSQL and the gRPC code server, and the image installs the locked
versions. (The same two files run the real processes in e2e/test_deployment.py.) The top-level
dagster.yaml is the local instance, checked in test_first_hour.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SERVICES = {"postgres", "warehouse-init", "user-code", "webserver", "daemon", "mailpit", "java-api", "api"}
ONE_SHOT = {"warehouse-init"}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET", re.IGNORECASE)
REFERENCE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
OLDEST_SUPPORTED_POSTGRES = 14  # 13 reached end of life in November 2025


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation for the forms the file uses: ${X}, ${X:-default}, ${X:?error}, $$."""

    def resolve(match: re.Match) -> str:
        value = env.get(match["name"], "")
        if match["op"] in (":-", "-"):
            return value or match["arg"]
        if match["op"] in (":?", "?") and not value:
            raise KeyError(f"{match['name']} is required: {match['arg']}")
        return value

    return REFERENCE.sub(resolve, text).replace("$$", "$")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (REPO / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    """docker-compose.yml as `docker compose config` would read it, with .env.example's values and
    placeholder secrets (the example leaves them empty on purpose)."""
    env = env_example()
    env.update({name: "example-secret" for name in env if SECRET_NAME.search(name) and not env[name]})
    return yaml.safe_load(interpolate(compose_text, env))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_compose_names_every_service_of_the_design(services):
    assert set(services) == SERVICES


def test_every_long_running_service_has_a_health_check(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert service.get("restart") == "unless-stopped", name


def test_dependencies_wait_for_health_not_just_start(services):
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s health check"
            else:
                assert condition["condition"] == "service_completed_successfully" and dependency in ONE_SHOT
    assert services["webserver"]["depends_on"]["user-code"]["condition"] == "service_healthy"
    assert services["daemon"]["depends_on"]["user-code"]["condition"] == "service_healthy"
    assert services["user-code"]["depends_on"]["warehouse-init"]["condition"] == "service_completed_successfully"


def test_images_are_pinned_and_postgres_is_a_supported_major_version(services):
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
    major = int(re.match(r"postgres:(\d+)", services["postgres"]["image"]).group(1))
    assert major >= OLDEST_SUPPORTED_POSTGRES


def test_postgres_keeps_its_data_in_a_named_volume(compose, services):
    mounts = services["postgres"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in mounts
    assert "postgres-data" in compose["volumes"]
    # Compute logs are written where runs execute (user-code) and read by the webserver.
    storage = "dagster-storage:/opt/dagster/dagster_home/storage"
    assert storage in services["user-code"]["volumes"] and storage in services["webserver"]["volumes"]


def test_nothing_mounts_the_docker_socket(compose_text, services):
    assert "docker.sock" not in compose_text
    for name, service in services.items():
        assert not any("/var/run/docker" in str(volume) for volume in service.get("volumes", [])), name


def test_published_ports_are_bound_to_loopback_by_default(services):
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert "webserver" in published and "mailpit" in published
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def test_secrets_come_from_env_only(compose_text):
    raw = yaml.safe_load(compose_text)
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and value:
                assert str(value).startswith("${"), f"{name}.{key} is a literal secret"
            assert not re.search(r"://[^:/@$]+:[^@${]+@", str(value)), f"{name}.{key} embeds a literal password"
    required = {match["name"] for match in REFERENCE.finditer(compose_text) if match["op"] in (":?", "?")}
    assert {"POSTGRES_PASSWORD", "SALESFLOW_READER_PASSWORD"} <= required
    example = env_example()
    assert all(not example[name] for name in example if SECRET_NAME.search(name)), ".env.example holds a secret"


def test_env_example_documents_every_variable_compose_reads(compose_text):
    referenced = {match["name"] for match in REFERENCE.finditer(compose_text)}
    assert referenced <= set(env_example()), f"missing from .env.example: {referenced - set(env_example())}"


def test_with_an_incomplete_env_compose_refuses_to_start(compose_text):
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(compose_text, env_example())


def test_dagster_processes_share_the_instance_and_find_the_code_server(services):
    grpc_port = services["user-code"]["command"][services["user-code"]["command"].index("-p") + 1]
    for name in ("user-code", "webserver", "daemon"):
        env = services[name]["environment"]
        assert env["DAGSTER_PG_HOST"] == "postgres", name
        assert env["DAGSTER_GRPC_HOST"] == "user-code" and env["DAGSTER_GRPC_PORT"] == grpc_port, name
    assert services["webserver"]["command"][:1] == ["dagster-webserver"]
    assert "workspace.yaml" in services["webserver"]["command"]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert "workspace.yaml" in services["daemon"]["command"]
    # The webserver and the daemon get no application secrets: runs execute in user-code.
    for name in ("webserver", "daemon"):
        assert not any(key.startswith(("JAVA_API", "SALESFLOW_SMTP")) for key in services[name]["environment"])


def test_java_stand_in_says_to_replace_it_with_the_real_backend(compose_text, services):
    block = compose_text[compose_text.index("# A stand-in for the SalesFlow Lite Java backend") :]
    assert "Replace it with the real backend" in block.split("java-api:")[0]
    assert services["java-api"]["command"][:2] == ["salesflow", "standin"]
    assert services["user-code"]["environment"]["JAVA_API_URL"] == "http://java-api:8080/api/v1"


def test_deploy_dagster_yaml_uses_postgres_from_env_and_a_queue():
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    storage = instance["storage"]["custom"]
    assert (storage["module"], storage["class"]) == ("salesflow_pipelines.instance_storage", "PostgresStorage")
    database = storage["config"]["postgres_db"]
    for field in ("hostname", "port", "username", "password", "db_name"):
        assert set(database[field]) == {"env"} and database[field]["env"].startswith("DAGSTER_PG_"), field
    coordinator = instance["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert 1 <= coordinator["config"]["max_concurrent_runs"] <= 10
    assert instance["telemetry"] == {"enabled": False}


def test_workspace_yaml_points_at_the_grpc_code_server():
    (location,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    server = location["grpc_server"]
    assert server["host"] == {"env": "DAGSTER_GRPC_HOST"} and server["port"] == {"env": "DAGSTER_GRPC_PORT"}
    assert server["location_name"] == "salesflow_pipelines"


def test_image_runs_unprivileged_with_the_repo_instance_files():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert re.search(r"^USER dagster$", dockerfile, re.MULTILINE)
    # The PostgreSQL instance, not the top-level (local SQLite) dagster.yaml, and the locked versions.
    assert re.search(r"^COPY .*\bdeploy/dagster\.yaml \$DAGSTER_HOME/dagster\.yaml$", dockerfile, re.MULTILINE)
    others = dockerfile.replace("deploy/dagster.yaml", "")
    assert not re.search(r"^COPY .*(?<![/\w])dagster\.yaml", others, re.MULTILINE)
    assert re.search(r"^COPY .*\brequirements\.lock\b", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install --constraint requirements\.lock \.", dockerfile, re.MULTILINE)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", ".salesflow"} <= set(ignored)
    assert "requirements.lock" not in ignored and "deploy" not in ignored
    assert "deploy/*" not in ignored or "!deploy/dagster.yaml" in ignored


def test_the_read_api_reads_as_the_read_only_role_and_verifies_the_backends_tokens(services):
    environment = services["api"]["environment"]
    assert environment["SALESFLOW_API_WAREHOUSE_URL"].startswith("postgresql://salesflow_reader:")
    assert services["java-api"]["environment"]["JAVA_JWT_SECRET"] == environment["JAVA_JWT_SECRET"]
