"""The `virtfleet` CLI driven through typer's CliRunner against a simulated engine API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat
import sys
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from virtfleet.cli.commands import CliState
from virtfleet.cli.main import app
from virtfleet.cli.profile import ca_fingerprint

URL = "https://engine.test:8443"
API = "/ovirt-engine/api"
PASSWORD = "s3cret-pw"
Json = dict[str, Any]


def make_ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "virtfleet test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def new_id() -> str:
    return str(uuid.uuid4())


class FakeEngine:
    """Just enough of the engine's JSON API: SSO, collections, entities, actions, jobs, events."""

    COLLECTIONS = {
        "vms": "vm",
        "hosts": "host",
        "clusters": "cluster",
        "datacenters": "data_center",
        "storagedomains": "storage_domain",
        "jobs": "job",
    }

    def __init__(self) -> None:
        self.ca_pem = make_ca_pem()
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.tokens_valid_for = 10_000  # API calls a token serves before "expiring"
        self.token_uses: dict[str, int] = {}
        self.requests: list[httpx.Request] = []
        self.objects: dict[str, dict[str, Json]] = {name: {} for name in self.COLLECTIONS}
        # Statuses an object reports on its next GETs, one per GET, after an action.
        self.scripts: dict[str, list[str]] = {}
        self.action_scripts: dict[str, list[str]] = {}
        self.action_replies: dict[str, Json] = {}
        self.steps: dict[str, list[Json]] = {}
        self.events: list[Json] = []
        self.faults: dict[tuple[str, str], tuple[int, Json]] = {}
        self.on_events_from: Callable[[int], list[Json]] | None = None
        self.created_status = {"vms": "down", "hosts": "installing", "storagedomains": "locked"}
        # Statuses a newly created object reports on its first GETs, per collection.
        self.created_scripts: dict[str, list[str]] = {}

    def add(self, collection: str, **fields: Any) -> Json:
        obj = {"id": new_id(), **fields}
        obj["href"] = f"{API}/{collection}/{obj['id']}"
        self.objects[collection][obj["id"]] = obj
        return obj

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def api_calls(self, method: str, path_prefix: str) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.method == method and r.url.path.startswith(API + path_prefix)
        ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/ovirt-engine/sso/oauth/token":
            return self._token(request)
        if path == "/ovirt-engine/services/pki-resource":
            return httpx.Response(200, text=self.ca_pem)
        if not path.startswith(API):
            return httpx.Response(404)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return httpx.Response(401, json={"reason": "Unauthorized", "detail": "bad token"})
        self.token_uses[token] = self.token_uses.get(token, 0) + 1
        if self.token_uses[token] > self.tokens_valid_for:
            self.valid_tokens.discard(token)
            return httpx.Response(401, json={"reason": "Unauthorized", "detail": "expired"})
        fault = self.faults.get((request.method, path[len(API) :]))
        if fault is not None:
            return httpx.Response(fault[0], json=fault[1])
        return self._api(request, path[len(API) :].strip("/").split("/"))

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form["grant_type"] == "password" and form["scope"] == "ovirt-app-api"
        if form.get("password") != PASSWORD:
            return httpx.Response(
                400,
                json={"error": "access_denied", "error_description": "Cannot authenticate user"},
            )
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return httpx.Response(200, json={"access_token": token, "token_type": "Bearer", "exp": 0})

    def _api(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        params = request.url.params
        body = json.loads(request.content) if request.content else {}
        collection = parts[0]
        if collection == "events":
            return httpx.Response(200, json={"event": self._events(params)})
        if collection == "datacenters" and parts[2:3] == ["storagedomains"]:
            return self._attached_domain(request, parts, body)
        if collection not in self.objects:
            return httpx.Response(404, json={"reason": "Not Found", "detail": collection})
        key = self.COLLECTIONS[collection]
        items = self.objects[collection]
        if len(parts) == 1 and request.method == "GET":
            found = list(items.values())
            search = params.get("search")
            if search and search.startswith("name="):
                found = [o for o in found if o.get("name") == search[5:].strip('"')]
            return httpx.Response(200, json={key: found} if found else {})
        if len(parts) == 1 and request.method == "POST":
            created = self.add(collection, status=self.created_status.get(collection), **body)
            self.scripts[created["id"]] = list(self.created_scripts.get(collection, []))
            return httpx.Response(201, json=created)
        obj = items.get(parts[1])
        if obj is None:
            return httpx.Response(404, json={"reason": "Not Found", "detail": parts[1]})
        if len(parts) == 2 and request.method == "GET":
            script = self.scripts.get(obj["id"])
            if script:
                obj["status"] = script.pop(0)
            return httpx.Response(200, json=obj)
        if len(parts) == 2 and request.method == "DELETE":
            del items[obj["id"]]
            return httpx.Response(200, json={})
        if parts[2:] == ["steps"]:
            return httpx.Response(200, json={"step": self.steps.get(obj["id"], [])})
        if len(parts) == 3 and request.method == "POST":
            action = parts[2]
            self.scripts[obj["id"]] = list(self.action_scripts.get(action, []))
            return httpx.Response(200, json=self.action_replies.get(action, {"status": "complete"}))
        return httpx.Response(404, json={"reason": "Not Found", "detail": "/".join(parts)})

    def _attached_domain(
        self, request: httpx.Request, parts: list[str], body: Json
    ) -> httpx.Response:
        """A domain seen through its data center answers like the domain itself here."""
        if len(parts) == 3 and request.method == "POST":
            domain = self.objects["storagedomains"][body["id"]]
            domain["data_centers"] = {"data_center": [{"id": parts[1]}]}
            self.scripts[domain["id"]] = list(self.action_scripts.get("attach", []))
            return httpx.Response(201, json=domain)
        return self._api(request, ["storagedomains", *parts[3:]])

    def _events(self, params: httpx.QueryParams) -> list[Json]:
        if "from" in params and self.on_events_from is not None:
            return self.on_events_from(int(params["from"]))
        newest_first = sorted(self.events, key=lambda e: int(e["id"]), reverse=True)
        return newest_first[: int(params.get("max", 100))]


@pytest.fixture
def engine() -> FakeEngine:
    fake = FakeEngine()
    fake.add("clusters", name="Default", version={"major": 4, "minor": 7})
    fake.add("vms", name="web1", status="down", memory=2 * 1024**3)
    fake.add("vms", name="db1", status="up", memory=1024**3, cpu={"topology": {"sockets": 2}})
    return fake


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def env(config_home: Path) -> dict[str, str]:
    """Credentials from the environment: a token is fetched per run."""
    return {
        "XDG_CONFIG_HOME": str(config_home),
        "VIRTFLEET_URL": URL,
        "VIRTFLEET_USER": "admin@internal",
        "VIRTFLEET_PASSWORD": PASSWORD,
    }


@pytest.fixture
def run(engine: FakeEngine, env: dict[str, str]) -> Callable[..., Any]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, environ: dict[str, str] | None = None) -> Any:
        state = CliState(transport=engine.transport(), env=environ or env, sleep=lambda _: None)
        return runner.invoke(app, list(args), input=input, obj=state)

    return invoke


def vm_named(engine: FakeEngine, name: str) -> Json:
    return next(vm for vm in engine.objects["vms"].values() if vm["name"] == name)


def test_login_stores_url_user_ca_and_token_but_never_the_password(
    run: Callable[..., Any], engine: FakeEngine, config_home: Path
) -> None:
    result = run(
        "login",
        f"{URL}/ovirt-engine/api/",
        "--user",
        "admin@internal",
        "--password-stdin",
        input=PASSWORD + "\n",
        environ={"XDG_CONFIG_HOME": str(config_home)},
    )

    assert result.exit_code == 0, result.output
    profile_file = config_home / "virtfleet" / "cli.json"
    assert stat.S_IMODE(profile_file.stat().st_mode) == 0o600
    text = profile_file.read_text()
    assert PASSWORD not in text
    profile = json.loads(text)
    assert profile["url"] == URL
    assert profile["user"] == "admin@internal"
    assert profile["token"] == "token-1"
    assert Path(profile["ca_file"]).read_text() == engine.ca_pem
    assert "SHA-256 fingerprint" in result.output


def test_the_fingerprint_is_the_sha256_of_the_certificate_der() -> None:
    pem = make_ca_pem()
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)

    fingerprint = ca_fingerprint(pem)

    assert fingerprint.replace(":", "").lower() == hashlib.sha256(der).hexdigest()


def test_commands_after_login_use_the_stored_token_without_a_password(
    run: Callable[..., Any], config_home: Path
) -> None:
    profile_env = {"XDG_CONFIG_HOME": str(config_home)}
    run("login", URL, "--password-stdin", input=PASSWORD + "\n", environ=profile_env)

    result = run("vm", "list", environ=profile_env)

    assert result.exit_code == 0, result.output
    assert "web1" in result.output


def test_login_with_a_wrong_password_fails_and_stores_nothing(
    run: Callable[..., Any], config_home: Path
) -> None:
    result = run(
        "login",
        URL,
        "--password-stdin",
        input="wrong\n",
        environ={"XDG_CONFIG_HOME": str(config_home)},
    )

    assert result.exit_code == 1
    assert "Cannot authenticate user" in result.output
    assert not (config_home / "virtfleet" / "cli.json").exists()


def test_logout_forgets_the_profile(run: Callable[..., Any], config_home: Path) -> None:
    profile_env = {"XDG_CONFIG_HOME": str(config_home)}
    run("login", URL, "--password-stdin", input=PASSWORD + "\n", environ=profile_env)

    result = run("logout", environ=profile_env)

    assert result.exit_code == 0
    assert not (config_home / "virtfleet" / "cli.json").exists()
    assert "Not logged in" in run("vm", "list", environ=profile_env).output


def test_vm_list_renders_a_table_with_names_statuses_and_memory(run: Callable[..., Any]) -> None:
    result = run("vm", "list")

    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[1]
    assert "Name" in header and "Status" in header
    web1 = next(line for line in result.stdout.splitlines() if "web1" in line)
    assert "down" in web1 and "2 GiB" in web1


def test_json_output_prints_the_api_objects(run: Callable[..., Any]) -> None:
    result = run("--output", "json", "vm", "list")

    assert result.exit_code == 0, result.output
    names = {vm["name"] for vm in json.loads(result.stdout)}
    assert names == {"web1", "db1"}


def test_vm_show_resolves_a_name_to_its_id_by_search(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    result = run("-o", "json", "vm", "show", "db1")

    assert result.exit_code == 0, result.output
    searches = [r.url.params.get("search") for r in engine.api_calls("GET", "/vms")]
    assert "name=db1" in searches
    assert json.loads(result.stdout)["id"] == vm_named(engine, "db1")["id"]


def test_vm_show_uses_an_id_as_is(run: Callable[..., Any], engine: FakeEngine) -> None:
    vm_id = vm_named(engine, "db1")["id"]

    result = run("vm", "show", vm_id)

    assert result.exit_code == 0, result.output
    assert all("search" not in r.url.params for r in engine.api_calls("GET", "/vms"))
    assert "db1" in result.stdout


def test_an_unknown_name_is_a_one_line_error(run: Callable[..., Any]) -> None:
    result = run("vm", "show", "nope")

    assert result.exit_code == 1
    assert "no VM named 'nope'" in result.stderr


def test_vm_create_sends_cluster_template_memory_and_cpus(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    result = run("vm", "create", "vm3", "--cluster", "Default", "--memory", "512MiB", "--cpus", "2")

    assert result.exit_code == 0, result.output
    body = json.loads(engine.api_calls("POST", "/vms")[0].content)
    assert body == {
        "name": "vm3",
        "cluster": {"name": "Default"},
        "template": {"name": "Blank"},
        "memory": 512 * 1024**2,
        "cpu": {"topology": {"sockets": 2, "cores": 1, "threads": 1}},
    }


def test_vm_start_waits_until_the_vm_is_up(run: Callable[..., Any], engine: FakeEngine) -> None:
    engine.action_scripts["start"] = ["down", "wait_for_launch", "powering_up", "up"]
    vm_id = vm_named(engine, "web1")["id"]

    result = run("vm", "start", "web1")

    assert result.exit_code == 0, result.output
    assert "VM web1: up" in result.stdout
    assert len(engine.api_calls("GET", f"/vms/{vm_id}")) == 4


def test_vm_start_no_wait_returns_after_the_request(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.action_scripts["start"] = ["wait_for_launch", "up"]
    vm_id = vm_named(engine, "web1")["id"]

    result = run("vm", "start", "web1", "--no-wait")

    assert result.exit_code == 0, result.output
    assert engine.api_calls("POST", f"/vms/{vm_id}/start")
    assert not engine.api_calls("GET", f"/vms/{vm_id}")


def test_vm_start_fails_when_the_vm_falls_back_to_down(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.action_scripts["start"] = ["wait_for_launch", "down"]

    result = run("vm", "start", "web1")

    assert result.exit_code == 1
    assert "VM web1 is down" in result.stderr


def test_vm_start_fails_with_the_failed_step_of_its_job(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    job = engine.add("jobs", description="Launching VM web1", status="failed")
    engine.steps[job["id"]] = [
        {"id": new_id(), "number": 1, "type": "executing", "description": "Run", "status": "failed"}
    ]
    engine.action_replies["start"] = {"status": "complete", "job": {"id": job["id"]}}

    result = run("vm", "start", "web1")

    assert result.exit_code == 1
    assert "Launching VM web1 failed at step: Run" in result.stderr


def test_waiting_gives_up_after_the_timeout(run: Callable[..., Any]) -> None:
    result = run("vm", "start", "web1", "--timeout", "0")

    assert result.exit_code == 1
    assert "gave up after 0s" in result.stderr


def test_an_api_fault_is_shown_in_one_line_without_traceback(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.faults[("POST", "/vms")] = (
        409,
        {"reason": "Operation Failed", "detail": "Cannot add VM. The name is in use."},
    )

    result = run("vm", "create", "web1", "--cluster", "Default")

    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: Operation Failed: Cannot add VM. The name is in use."
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_an_unreachable_engine_is_a_one_line_error(env: dict[str, str]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    state = CliState(transport=httpx.MockTransport(refuse), env=env)
    result = CliRunner().invoke(app, ["vm", "list"], obj=state)

    assert result.exit_code == 1
    assert "Connection failed" in result.stderr and "Connection refused" in result.stderr


def test_an_expired_token_is_replaced_once_and_the_call_retried(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.tokens_valid_for = 1  # the first token serves one call, then answers 401

    result = run("vm", "show", "web1")

    assert result.exit_code == 0, result.output
    assert engine.tokens_issued == 2
    assert "web1" in result.stdout


def test_a_token_rejected_again_after_relogin_is_an_error(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.tokens_valid_for = 0

    result = run("vm", "list")

    assert result.exit_code == 1
    assert engine.tokens_issued == 2
    assert "Unauthorized" in result.stderr


def test_event_follow_polls_with_from_the_last_id_until_ctrl_c(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.events = [
        {
            "id": str(i),
            "time": f"2026-01-01T00:00:0{i}+00:00",
            "severity": "normal",
            "code": 30,
            "description": f"event {i}",
        }
        for i in (1, 2, 3)
    ]
    froms: list[int] = []

    def newer(after: int) -> list[Json]:
        froms.append(after)
        if len(froms) == 1:
            return [
                {
                    "id": "4",
                    "time": "2026-01-01T00:00:04Z",
                    "severity": "warning",
                    "code": 9,
                    "description": "event 4",
                }
            ]
        if len(froms) == 2:
            return []
        raise KeyboardInterrupt

    engine.on_events_from = newer

    result = run("event", "list", "--max", "3", "--follow")

    assert result.exit_code == 0, result.output
    assert froms == [3, 4, 4]
    lines = [line for line in result.stdout.splitlines() if "event" in line]
    assert [line.split()[-1] for line in lines] == ["1", "2", "3", "4"]


def test_host_add_reads_the_root_password_from_stdin_and_waits_until_up(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.created_scripts["hosts"] = ["installing", "initializing", "up"]

    result = run(
        "host",
        "add",
        "h1",
        "--address",
        "10.0.0.5",
        "--cluster",
        "Default",
        "--password-stdin",
        input="rootpw\n",
    )

    assert result.exit_code == 0, result.output
    body = json.loads(engine.api_calls("POST", "/hosts")[0].content)
    assert body == {
        "name": "h1",
        "address": "10.0.0.5",
        "root_password": "rootpw",
        "cluster": {"name": "Default"},
    }
    assert "host h1: up" in result.stdout


def test_host_activation_fails_when_the_host_becomes_non_operational(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.add("hosts", name="h2", status="maintenance", address="10.0.0.6")
    engine.action_scripts["activate"] = ["connecting", "non_operational"]

    result = run("host", "activate", "h2")

    assert result.exit_code == 1
    assert "host h2 is non_operational" in result.stderr


def test_storage_add_sends_the_domain_and_waits_until_it_is_settled(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    engine.created_scripts["storagedomains"] = ["locked", "locked", "unattached"]

    result = run(
        "storage",
        "add",
        "data1",
        "--type",
        "posixfs",
        "--path",
        "/srv/data1",
        "--host",
        "h1",
    )

    assert result.exit_code == 0, result.output
    assert "storage domain data1: unattached" in result.stdout
    body = json.loads(engine.api_calls("POST", "/storagedomains")[0].content)
    assert body == {
        "name": "data1",
        "type": "data",
        "storage": {"type": "posixfs", "path": "/srv/data1"},
        "host": {"name": "h1"},
    }


def test_storage_activate_finds_the_data_center_it_is_attached_to(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    dc = engine.add("datacenters", name="Default", status="up")
    sd = engine.add(
        "storagedomains",
        name="data1",
        status="maintenance",
        data_centers={"data_center": [{"id": dc["id"]}]},
    )

    result = run("storage", "activate", "data1", "--no-wait")

    assert result.exit_code == 0, result.output
    assert engine.api_calls("POST", f"/datacenters/{dc['id']}/storagedomains/{sd['id']}/activate")


def test_storage_attach_posts_the_domain_id_to_the_data_center(
    run: Callable[..., Any], engine: FakeEngine
) -> None:
    dc = engine.add("datacenters", name="Default", status="up")
    sd = engine.add("storagedomains", name="data1", status="unattached")
    engine.action_scripts["attach"] = ["locked", "active"]

    result = run("storage", "attach", "data1", "--datacenter", "Default")

    assert result.exit_code == 0, result.output
    posts = engine.api_calls("POST", f"/datacenters/{dc['id']}/storagedomains")
    assert json.loads(posts[0].content) == {"id": sd["id"]}
    assert "storage domain data1: active" in result.stdout


def test_job_show_lists_its_steps(run: Callable[..., Any], engine: FakeEngine) -> None:
    job = engine.add("jobs", description="Adding host h1", status="started")
    engine.steps[job["id"]] = [
        {
            "id": new_id(),
            "number": 2,
            "type": "executing",
            "description": "Install",
            "status": "started",
        },
        {
            "id": new_id(),
            "number": 1,
            "type": "validating",
            "description": "Check",
            "status": "finished",
        },
    ]

    result = run("job", "show", job["id"])

    assert result.exit_code == 0, result.output
    assert "Adding host h1" in result.stdout
    assert result.stdout.index("Check") < result.stdout.index("Install")


@pytest.mark.parametrize("command", ["up", "engine", "agent", "login", "logout"])
def test_process_and_session_commands_are_registered(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])

    assert result.exit_code == 0, result.output


def test_up_hands_its_options_to_run_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []
    module = types.ModuleType("virtfleet.allinone")
    module.run_up = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "virtfleet.allinone", module)

    result = CliRunner().invoke(
        app,
        [
            "up",
            "--data-dir",
            str(tmp_path),
            "--port",
            "9443",
            "--simulate",
            "3",
            "--agent-port",
            "55000",
            "--local-driver",
            "test",
            "--database-url",
            "postgresql://vf:pw@db/vf",
        ],
    )

    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "data_dir": tmp_path,
            "port": 9443,
            "simulate": 3,
            "listen": "127.0.0.1",
            "agent_port": 55000,
            "local_driver": "test",
            "libvirt_uri": None,
            "database_url": "postgresql://vf:pw@db/vf",
        }
    ]
