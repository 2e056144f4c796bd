"""Every command block of README.md and docs/*.md runs here, so a documented command cannot rot.

A block is a fenced code block; its info string says what is done with it (`KINDS`), and a block
of any other info string fails `test_every_block_is_of_a_known_kind`:

- `bash`: run to completion (exit 0) by bash with `set -euo pipefail`;
- `bash server`: started in a process group of its own; every port it listens on (`-p N`,
  `--port N`, `-l host:N`) must answer its probe (`PORTS`); then the group is stopped (Ctrl+C, then
  SIGKILL);
- `bash docker`: needs a Docker engine. With one, its other lines run and `docker compose config`
  checks the compose file (a stack is never started); without one, the compose file is
  interpolated with `.env` and parsed, and every `service:path` the block names must be a service
  with a volume mounted above that path;
- `sql`: run in PostgreSQL as `salesflow_reader` on the warehouse the docs' commands wrote; a
  statement whose line ends with `-- ERROR: <text>` must fail with an error holding <text>;
- `text`: output, a tree or a listing; not run.

The blocks run in document order (README.md first, then docs/ by name) in one sandbox: a temporary
copy of the repo's root files with the package linked in, whose `.venv` layers on the running
interpreter's site-packages (so `scripts/setup.sh` installs the package into it for real without
touching the developer's `.venv`), with every SALESFLOW_/DAGSTER_/JAVA_ variable cleared. Its
set-up is README's first block, `bash scripts/demo.sh`: the other blocks start, as the docs do,
from a repo where the demo ran. The stand-in Java server runs on a free port for the blocks that
call the backend (`127.0.0.1:8080`), and a scratch PostgreSQL database stands for the docs'
`salesflow` database. The few rewrites that make a documented command runnable here are listed in
`REWRITES`, each with its reason, and each must still match some block.

Also: every relative link (and its #anchor) and every file path the prose cites in backticks
(`lib/money.py`, `deploy/dagster.yaml`, …) exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import yaml

from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines_tests.conftest import scratch_database

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# What a fresh clone holds at its root that the documented commands use; the package is linked in.
ROOT_FILES = (
    "README.md", "pyproject.toml", "requirements.lock", "dagster.yaml", "workspace.yaml",
    "docker-compose.yml", "Dockerfile", ".dockerignore", ".env.example",
)  # fmt: skip
ROOT_DIRS = ("scripts", "deploy", ".ci")
CLEARED_PREFIXES = ("SALESFLOW_", "DAGSTER_", "JAVA_", "SYSTEM_JWT", "VIRTUAL_ENV", "PYTHONPATH")
DEMO_COMMAND = "bash scripts/demo.sh"
READER_ROLE = "salesflow_reader"
READER_PASSWORD = "change-me-too"  # what docs/deployment.md gives the role (for servers that ask for one)
BLOCK_TIMEOUT = 240
PROBE_TIMEOUT = 150
STOP_TIMEOUT = 20

KINDS = {
    "bash": "run to completion, exit 0",
    "bash server": "started, every port it listens on probed, stopped",
    "bash docker": "`docker compose config` with a Docker engine, else the compose file interpolated and checked",
    "sql": "run in PostgreSQL as salesflow_reader; `-- ERROR: <text>` expects that error",
    "text": "not a command: output, a tree, a listing",
}

FENCE = re.compile(r"^ {0,3}```(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}:{self.kind.replace(' ', '-')}"


def blocks_of(doc: Path) -> list[Block]:
    blocks, opened, body = [], None, []
    for number, line in enumerate(doc.read_text().splitlines(), start=1):
        fence = FENCE.match(line)
        if opened is None and fence:
            opened, body = (number, " ".join(fence["info"].split())), []
        elif opened is not None and line.strip() == "```":
            blocks.append(Block(doc, opened[0], opened[1], "\n".join(body) + "\n"))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{doc.relative_to(REPO)}:{opened[0]}: a code block is never closed"
    return blocks


ALL_BLOCKS = [block for doc in DOCS for block in blocks_of(doc)]
RUNNABLE = [block for block in ALL_BLOCKS if block.kind != "text"]


# --- rewrites: what makes a documented command runnable here, and why ---------------------------


@dataclass(frozen=True)
class Rewrite:
    pattern: str
    why: str
    replace: Callable[[re.Match, Sandbox], str]

    def apply(self, text: str, sandbox: Sandbox, used: set[str]) -> str:
        def replaced(match: re.Match) -> str:
            used.add(self.pattern)
            return self.replace(match, sandbox)

        return re.sub(self.pattern, replaced, text, flags=re.MULTILINE)


def script_check(match: re.Match, script: str, calls: str) -> str:
    """Checks standing in for running `bash scripts/<script>` with the flags it was given."""
    flags = [arg for arg in match["args"].split() if arg.startswith("--")]
    checks = [f"bash -n scripts/{script}", calls, *(f"grep -q -- '{flag}' scripts/{script}" for flag in flags)]
    return " && ".join(checks)


def pg(part: str) -> Callable[[re.Match, Sandbox], str]:
    return lambda match, sandbox: f"{match[1]}{getattr(sandbox.pg, part) or match[2]}"


REWRITES = [
    Rewrite(
        r"^(\s*)bash scripts/demo\.sh(?=\s*(?:#.*)?$)",
        "a week of demo days instead of 30: the same commands in a fraction of the time",
        lambda match, sandbox: f"{match[1]}{DEMO_COMMAND} --days 8",
    ),
    Rewrite(
        r"^\s*bash scripts/test\.sh(?P<args>[^#\n]*)(?:#.*)?$",
        "never the whole suite inside the suite: the script parses, CI calls it, it knows the flags",
        lambda match, sandbox: script_check(match, "test.sh", "grep -qx 'exec bash scripts/test.sh -q' .ci/run"),
    ),
    Rewrite(
        r"^\s*bash scripts/lock\.sh(?P<args>[^#\n]*)(?:#.*)?$",
        "re-resolving the lock needs the public index: the script parses, runs uv, knows the flags",
        lambda match, sandbox: script_check(match, "lock.sh", "grep -q 'uv\" pip compile' scripts/lock.sh"),
    ),
    Rewrite(
        r"(dagster dev)(?![^\n#]*\s-p\s)",
        "dagster dev serves port 3000 by default: made explicit so that it gets a free port",
        lambda match, sandbox: f"{match[1]} -p 3000",
    ),
    Rewrite(
        r"postgresql://[^\s/@'\"]*@(?:127\.0\.0\.1|localhost):5432/salesflow\b",
        "the docs' `salesflow` database on the local server is a scratch database here",
        lambda match, sandbox: sandbox.pg.url,
    ),
    Rewrite(r"(DAGSTER_PG_HOST=)(127\.0\.0\.1)\b", "the scratch database's server", pg("host")),
    Rewrite(r"(DAGSTER_PG_PORT=)(5432)\b", "the scratch database's server", pg("port")),
    Rewrite(r"(DAGSTER_PG_USER=)(salesflow)\b", "the scratch database's user", pg("user")),
    Rewrite(r"(DAGSTER_PG_PASSWORD=)(\S+)", "the scratch database's password, if it has one", pg("password")),
    Rewrite(r"(DAGSTER_PG_DB=)(salesflow)\b", "the scratch database", pg("database")),
    Rewrite(
        r"/srv/salesflow\b",
        "a deployment's folder, inside the sandbox",
        lambda match, sandbox: str(sandbox.root / "srv" / "salesflow"),
    ),
]

# Ports the docs use: who listens there, and how a `bash server` block proves it does. In every
# block a port is renamed to a free one, except the Java backend's when the block does not serve
# it: that is the test's stand-in.
PORTS = {1025: "smtp", 3000: "dagster-ui", 4000: "grpc", 8080: "java-api", 8081: "read-api"}
PORT = re.compile(r"(?<=[:= ])(" + "|".join(map(str, PORTS)) + r")\b(?![.\d])")
SERVED = re.compile(r"(?:\s(?:-p|--port)\s+|\s-l\s+[\w.]+:)(\d+)\b")
JAVA_PORT = 8080


# --- the sandbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    url: str
    host: str
    port: str
    user: str
    password: str | None
    database: str

    @classmethod
    def of(cls, url: str) -> Postgres:
        parts = urlsplit(url)
        return cls(url, parts.hostname, str(parts.port or 5432), parts.username, parts.password, parts.path[1:])

    def as_role(self, role: str, password: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(netloc=f"{role}:{password}@{self.host}:{self.port}"))


@dataclass
class Sandbox:
    root: Path
    env: dict[str, str]
    pg: Postgres
    java_port: int
    demo: subprocess.CompletedProcess | None = None
    used: set[str] = field(default_factory=set)

    def script(self, block: Block) -> tuple[str, list[int]]:
        """The block as it runs here, and the (renamed) ports it listens on."""
        text = block.text
        for rewrite in REWRITES:
            text = rewrite.apply(text, self, self.used)
        served = {int(port) for port in SERVED.findall(text) if int(port) in PORTS}
        renamed = {port: free_port() for port in PORTS if port in served or port != JAVA_PORT}
        renamed.setdefault(JAVA_PORT, self.java_port)
        text = PORT.sub(lambda match: str(renamed[int(match[1])]), text)
        return text, sorted((renamed[port], PORTS[port]) for port in served)

    def bash(self, script: str, timeout: float = BLOCK_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def layered_venv(target: Path) -> None:
    """A venv whose own site-packages comes first and the running interpreter's after it (a .pth
    line), with that interpreter's console scripts: what `scripts/setup.sh` installs lands here."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    own = Path(sysconfig.get_paths(vars={"base": str(target), "platbase": str(target)})["purelib"])
    own.mkdir(parents=True, exist_ok=True)
    (own / "_salesflow_docs_layer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python, scripts = target / "bin" / "python", Path(sys.executable).parent
    for script in scripts.iterdir():
        destination = target / "bin" / script.name
        if destination.exists() or not script.is_file():
            continue
        with contextlib.suppress(UnicodeDecodeError, OSError):
            first, _, rest = script.read_text().partition("\n")
            if first.startswith("#!") and first[2:].strip() == sys.executable:
                destination.write_text(f"#!{python}\n{rest}")
                destination.chmod(0o755)


def sandbox_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(CLEARED_PREFIXES)}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("docs") / "repo"
    root.mkdir()
    for name in ROOT_FILES:
        shutil.copy(REPO / name, root / name)
    for name in ROOT_DIRS:
        shutil.copytree(REPO / name, root / name)
    (root / "salesflow_pipelines").symlink_to(REPO / "salesflow_pipelines", target_is_directory=True)
    layered_venv(root / ".venv")
    with scratch_database("salesflow_docs") as url, StandinServer() as java:
        made = Sandbox(root, sandbox_env(), Postgres.of(url), java.port)
        first = next((block for block in ALL_BLOCKS if block.kind == "bash"), None)
        assert first is not None and first.doc.name == "README.md" and first.text.strip() == DEMO_COMMAND, (
            f"README.md's first bash block must be `{DEMO_COMMAND}`: the other blocks start after it"
        )
        script, _ = made.script(first)
        made.demo = made.bash(script)
        yield made


# --- the kinds ---------------------------------------------------------------------------------


def failure(completed: subprocess.CompletedProcess, script: str) -> str:
    output = f"--- stdout\n{completed.stdout[-3000:]}\n--- stderr\n{completed.stderr[-5000:]}"
    return f"exit {completed.returncode} running:\n{script}\n{output}"


def run_bash(block: Block, sandbox: Sandbox) -> None:
    script, served = sandbox.script(block)
    assert not served, f"{block}: a `bash` block starts no server; mark it `bash server`"
    if block.text.strip() == DEMO_COMMAND and block.doc.name == "README.md":
        completed = sandbox.demo  # the sandbox's set-up
    else:
        completed = sandbox.bash(script)
    assert completed.returncode == 0, failure(completed, script)


def run_server(block: Block, sandbox: Sandbox) -> None:
    script, served = sandbox.script(block)
    assert served, f"{block}: a `bash server` block must listen on a port of {sorted(PORTS)}"
    log_path = sandbox.root / f"server-{block.doc.stem}-{block.line}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=sandbox.root,
            env=sandbox.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for port, service in served:
            PROBES[service](port, process, log_path)
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """Ctrl+C to the block's process group (what a user does), then SIGKILL to what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        process.poll()  # reap the block's shell as soon as it exits
        if not group_alive(process.pid):
            break
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def group_alive(pgid: int) -> bool:
    """Whether a process of the group is still running (zombies left to their reaper do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def wait_for(what: str, ready: Callable[[], bool], process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + PROBE_TIMEOUT
    while True:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if ready():
                return
        if process.poll() not in (None, 0):
            pytest.fail(f"the block exited {process.returncode} before {what}:\n{log_path.read_text()[-5000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {PROBE_TIMEOUT} s:\n{log_path.read_text()[-5000:]}")
        time.sleep(0.5)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def tcp_probe(port: int, process: subprocess.Popen, log_path: Path) -> None:
    def accepts() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True

    wait_for(f"a listener on port {port}", accepts, process, log_path)


def java_api_probe(port: int, process: subprocess.Popen, log_path: Path) -> None:
    """Any answer of the API root's routes: without a token the stand-in says 401."""
    wait_for(f"Java API on port {port}", lambda: http_status(f"http://127.0.0.1:{port}/api/v1/products") < 500,
             process, log_path)  # fmt: skip


def read_api_probe(port: int, process: subprocess.Popen, log_path: Path) -> None:
    wait_for(f"read API on port {port}", lambda: http_status(f"http://127.0.0.1:{port}/api/v1/health") == 200,
             process, log_path)  # fmt: skip


LOCATIONS = (
    "{ workspaceOrError { ... on Workspace { locationEntries"
    " { name loadStatus locationOrLoadError { __typename } } } } }"
)


def dagster_ui_probe(port: int, process: subprocess.Popen, log_path: Path) -> None:
    """The webserver answers and has loaded the code location (not an error in its place)."""

    def loaded() -> bool:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=json.dumps({"query": LOCATIONS}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            entries = json.load(answer)["data"]["workspaceOrError"]["locationEntries"]
        if not entries or entries[0]["loadStatus"] != "LOADED":
            return False
        kinds = [(entry["name"], entry["locationOrLoadError"]["__typename"]) for entry in entries]
        assert kinds == [("salesflow_pipelines", "RepositoryLocation")], f"{kinds}\n{log_path.read_text()[-5000:]}"
        return True

    wait_for(f"Dagster UI on port {port} with the code location loaded", loaded, process, log_path)


PROBES: dict[str, Callable[[int, subprocess.Popen, Path], None]] = {
    "smtp": tcp_probe,
    "grpc": tcp_probe,
    "dagster-ui": dagster_ui_probe,
    "java-api": java_api_probe,
    "read-api": read_api_probe,
}

COMPOSE_REFERENCE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET = re.compile(r"PASSWORD|TOKEN|SECRET")
SERVICE_PATH = re.compile(r"(?<![\w/.-])(?P<service>[a-z][\w-]*):(?P<path>/\S*)")


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    checks = (["docker", "info"], ["docker", "compose", "version"])
    return all(subprocess.run(check, capture_output=True, timeout=60).returncode == 0 for check in checks)


def dotenv(root: Path) -> dict[str, str]:
    """`.env` (else `.env.example`) with its empty secrets filled, as the docs tell the reader to."""
    source = root / ".env" if (root / ".env").exists() else root / ".env.example"
    values = {}
    for line in source.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip() or ("docs-test-secret" if SECRET.search(name) else "")
    return values


def interpolated_compose(root: Path) -> dict:
    """docker-compose.yml as compose reads it with `.env`: ${X}, ${X:-default}, ${X:?error}, $$."""
    values = dotenv(root)

    def resolve(match: re.Match) -> str:
        value = values.get(match["name"], "")
        if match["op"] in (":-", "-"):
            return value or match["arg"]
        assert value or match["op"] not in (":?", "?"), f"{match['name']} is required: {match['arg']}"
        return value

    return yaml.safe_load(COMPOSE_REFERENCE.sub(resolve, (root / "docker-compose.yml").read_text()).replace("$$", "$"))


def run_docker(block: Block, sandbox: Sandbox) -> None:
    script, served = sandbox.script(block)
    assert not served, f"{block}: a `bash docker` block starts no server of its own"
    docker_lines = [line for line in script.splitlines() if line.lstrip().startswith("docker ")]
    assert docker_lines, f"{block}: a `bash docker` block has docker commands"
    others = "\n".join(line for line in script.splitlines() if line not in docker_lines)
    completed = sandbox.bash(others)
    assert completed.returncode == 0, failure(completed, others)
    # What the reader does next by hand: fill in the secrets .env.example leaves empty.
    filled = dotenv(sandbox.root)
    (sandbox.root / ".env").write_text("".join(f"{name}={value}\n" for name, value in filled.items()))
    if docker_engine():
        check = "docker compose -f docker-compose.yml config --quiet"
        completed = sandbox.bash(check)
        assert completed.returncode == 0, failure(completed, check)
    services = interpolated_compose(sandbox.root)["services"]
    # deployment.md: while `.env` is in the root, the local `dagster` commands read it too (Dagster
    # loads the working directory's .env), so the reader moves it away; the next blocks are local.
    (sandbox.root / ".env").unlink()
    for line in docker_lines:
        assert line.split()[:2] == ["docker", "compose"], f"{block}: only `docker compose` commands: {line}"
        for match in SERVICE_PATH.finditer(line):
            service = services.get(match["service"])
            assert service is not None, f"{block}: no service {match['service']} in docker-compose.yml"
            mounts = [volume.split(":")[1] for volume in service.get("volumes", [])]
            assert any(match["path"].startswith(mount.rstrip("/") + "/") for mount in mounts), (
                f"{block}: {match['path']} is on no volume of {match['service']} ({mounts})"
            )


def statements(sql: str) -> Iterator[tuple[str, str | None]]:
    """(statement, expected error text or None) for each `;`-terminated statement."""
    lines: list[str] = []
    for line in sql.splitlines():
        code, _, comment = line.partition("--")
        if not lines and not code.strip():
            continue
        lines.append(code)
        if code.rstrip().endswith(";"):
            expected = comment.strip().removeprefix("ERROR:").strip() if comment.strip().startswith("ERROR:") else None
            yield "\n".join(lines), expected
            lines = []
    assert not "".join(lines).strip(), f"a statement does not end with ';': {' '.join(lines)}"


def run_sql(block: Block, sandbox: Sandbox) -> None:
    url = sandbox.pg.as_role(READER_ROLE, READER_PASSWORD)
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
        for statement, expected in statements(block.text):
            try:
                connection.execute(statement).fetchall()
            except psycopg.Error as error:
                assert expected and expected in str(error), f"{block}: {statement}\nfailed: {error}"
            else:
                assert expected is None, f"{block}: {statement}\nshould fail with {expected!r}"


RUNNERS: dict[str, Callable[[Block, Sandbox], None]] = {
    "bash": run_bash,
    "bash server": run_server,
    "bash docker": run_docker,
    "sql": run_sql,
}


# --- the tests ---------------------------------------------------------------------------------


def test_every_block_is_of_a_known_kind():
    unknown = [f"{block} ({block.kind or 'no info string'})" for block in ALL_BLOCKS if block.kind not in KINDS]
    assert not unknown, f"blocks of no known kind (say one of {sorted(KINDS)}): {unknown}"
    assert set(RUNNERS) == set(KINDS) - {"text"}


def test_every_rewrite_still_matches_a_block():
    """A rewrite nothing matches any more is stale: remove it (or the docs lost a command)."""
    sandbox = Sandbox(REPO, {}, Postgres.of("postgresql://u@h:1/d"), java_port=1)
    for block in RUNNABLE:
        sandbox.script(block)
    stale = [rewrite.pattern for rewrite in REWRITES if rewrite.pattern not in sandbox.used]
    assert not stale, f"rewrites matching no block: {stale}"


LINK = re.compile(r"\]\((?!https?://)(?P<target>[^)#\s]*)(?:#(?P<anchor>[^)\s]+))?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FILE_PATH = re.compile(r"(?<![\w.$<>/-])(?:[\w.-]+/)+[\w.-]+\.(?:py|md|sh|yml|yaml|toml|lock)\b")
# Where a path the prose cites may be rooted: the repo, the package (`lib/…`, `defs/…`).
PATH_ROOTS = (REPO, REPO / "salesflow_pipelines")


def prose(doc: Path) -> str:
    """The doc without its code blocks (those are run, not cited)."""
    inside, lines = False, []
    for line in doc.read_text().splitlines():
        if FENCE.match(line) or (inside and line.strip() == "```"):
            inside = not inside
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors of the doc's headings."""
    headings = re.findall(r"^#+\s+(.+)$", prose(doc), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(REPO)))
def test_links_and_cited_files_exist(doc):
    text = prose(doc)
    broken = []
    for link in LINK.finditer(text):
        target = (doc.parent / link["target"]).resolve() if link["target"] else doc
        if not target.exists():
            broken.append(f"link to {link['target']}")
        elif link["anchor"] and target.suffix == ".md" and link["anchor"] not in anchors(target):
            broken.append(f"link to {link['target']}#{link['anchor']} (no such heading)")
    for span in CODE_SPAN.findall(text):
        for path in FILE_PATH.findall(span):
            if not any((root / path).exists() for root in PATH_ROOTS):
                broken.append(f"`{path}`")
    assert not broken, f"{doc.relative_to(REPO)} cites what does not exist: {broken}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("block", RUNNABLE, ids=str)
def test_documented_block_runs(block, sandbox):
    RUNNERS[block.kind](block, sandbox)
