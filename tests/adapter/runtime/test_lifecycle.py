"""The init phase (the handler loaded, the lifespan started, failures posted to /init/error), the internal
extension that makes Lambda send SIGTERM, the shutdown it starts, and the command line."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from adapter import LambdaAdapter
from adapter.runtime import run
from adapter.runtime.client import RuntimeClient
from adapter.runtime.loop import EXTENSION_NAME, initialize, register_for_sigterm
from adapter.runtime.main import main
from tests.adapter.builders import make_function_url_event
from tests.adapter.runtime import apps
from tests.adapter.runtime.conftest import MakeRuntime
from tests.adapter.runtime.emulator import RuntimeAPI

ROOT = Path(__file__).parents[3]


@pytest.fixture
def client(api: RuntimeAPI) -> Iterator[RuntimeClient]:
    runtime_client = RuntimeClient(api.address)
    yield runtime_client
    runtime_client.close()


@pytest.mark.parametrize(
    ("spec", "error_type", "message"),
    [
        pytest.param(
            "handler",
            "Runtime.MalformedHandlerName",
            "Bad handler 'handler': name the module and the attribute, as module.attribute",
            id="no-module",
        ),
        pytest.param(
            "tests.adapter.runtime.nowhere.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'tests.adapter.runtime.nowhere': No module named 'tests.adapter.runtime.nowhere'",
            id="no-such-module",
        ),
        pytest.param(
            "tests.adapter.runtime.apps.nothing",
            "Runtime.HandlerNotFound",
            "Handler 'nothing' missing on module 'tests.adapter.runtime.apps'",
            id="no-such-handler",
        ),
        pytest.param(
            "tests.adapter.runtime.apps.not_callable",
            "Runtime.HandlerNotFound",
            "Handler 'not_callable' on module 'tests.adapter.runtime.apps' is not callable",
            id="not-callable",
        ),
    ],
)
def test_a_handler_that_cannot_load_is_an_init_error(
    api: RuntimeAPI, client: RuntimeClient, spec: str, error_type: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit:
        initialize(spec, client, graceful_shutdown=False)

    assert exit.value.code == 1
    ((headers, body),) = api.init_errors
    assert headers["lambda-runtime-function-error-type"] == error_type
    assert json.loads(body) == {"errorMessage": message, "errorType": error_type, "stackTrace": []}


def test_a_syntax_error_is_an_init_error(
    api: RuntimeAPI, client: RuntimeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_module.py").write_text("def handler(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(SystemExit):
        initialize("broken_module.handler", client, graceful_shutdown=False)

    document = json.loads(api.init_errors[0][1])
    assert document["errorType"] == "Runtime.UserCodeSyntaxError"
    assert document["errorMessage"].startswith("Syntax error in module 'broken_module'")


def test_a_lifespan_startup_failure_is_an_init_error(
    api: RuntimeAPI, client: RuntimeClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RUNTIME_TEST_FAIL_STARTUP", "1")
    try:
        with pytest.raises(SystemExit):
            initialize("tests.adapter.runtime.apps.handler", client, graceful_shutdown=False)
    finally:
        apps.handler.close()

    document = json.loads(api.init_errors[0][1])
    assert document["errorType"] == "LifespanError"
    assert "the database is unreachable" in document["errorMessage"]
    assert document["stackTrace"]
    assert "[ERROR] LifespanError: ASGI lifespan startup failed" in caplog.text


def test_init_loads_the_handler_and_starts_the_lifespan(api: RuntimeAPI, client: RuntimeClient) -> None:
    try:
        handler = initialize("tests.adapter.runtime.apps.handler", client)
        assert handler is apps.handler
        assert apps.gates.journal == ["startup"]
    finally:
        apps.handler.close()
    api.wait_for("extension-next")
    assert [events for _, events in api.extensions] == [[]]
    assert not api.init_errors


def test_a_failed_extension_registration_only_costs_the_graceful_shutdown(
    caplog: pytest.LogCaptureFixture, api: RuntimeAPI
) -> None:
    unreachable = RuntimeClient(api.address)
    api.shutdown_all()
    register_for_sigterm(unreachable)
    unreachable.close()

    assert "No graceful shutdown: registering the internal extension failed" in caplog.text
    assert EXTENSION_NAME == "asgi-lambda-adapter-graceful-shutdown"


def sigterm_when(condition: Callable[[], bool], api: RuntimeAPI) -> threading.Thread:
    """Sends this process SIGTERM once `condition` holds (checked whenever the emulator records a request)."""

    def wait_then_signal() -> None:
        with api.condition:
            api.condition.wait_for(condition, timeout=20)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=wait_then_signal)
    thread.start()
    return thread


def test_sigterm_while_waiting_runs_the_lifespan_shutdown(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    outcome = api.invoke(make_function_url_event(path="/hello"))
    thread = sigterm_when(lambda: api.log.count(("next", None)) == 2, api)

    runtime.serve()
    thread.join()

    assert outcome.wait().json()["body"] == "hello"
    assert apps.gates.journal == ["startup", "shutdown"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def test_sigterm_during_an_invocation_lets_it_finish_first(api: RuntimeAPI, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    outcome = api.invoke(make_function_url_event(path="/background"))
    thread = sigterm_when(lambda: ("response", outcome.request_id) in api.log, api)

    def release_after_the_signal() -> None:
        thread.join()
        apps.gates.release.set()

    releaser = threading.Thread(target=release_after_the_signal)
    releaser.start()
    runtime.serve()
    releaser.join()

    assert apps.gates.journal == ["startup", "background started", "background finished released=True", "shutdown"]
    assert api.log.count(("next", None)) == 1  # it did not ask for another invocation


def lifespan_app(shutdown: Callable[[], Any]) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await shutdown()

    return Starlette(lifespan=lifespan)


def test_a_shutdown_that_overruns_its_budget_is_stopped(
    api: RuntimeAPI, caplog: pytest.LogCaptureFixture, make_runtime: MakeRuntime
) -> None:
    import asyncio

    adapter = LambdaAdapter(lifespan_app(lambda: asyncio.sleep(10)))
    adapter.startup()
    runtime = make_runtime(adapter)

    runtime.shutdown(budget=0.05)

    assert "The lifespan shutdown did not finish within 50 ms; stopped it" in caplog.text
    assert adapter.loop is not None


def test_a_shutdown_that_fails_is_logged(
    api: RuntimeAPI, caplog: pytest.LogCaptureFixture, make_runtime: MakeRuntime
) -> None:
    async def fail() -> None:
        raise RuntimeError("the pool would not close")

    adapter = LambdaAdapter(lifespan_app(fail))
    adapter.startup()
    make_runtime(adapter).shutdown()

    assert "The lifespan shutdown failed" in caplog.text
    assert "the pool would not close" in caplog.text


def test_run_serves_until_sigterm(api: RuntimeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", api.address)
    monkeypatch.setenv("ADAPTER_RUNTIME_GRACEFUL_SHUTDOWN", "false")
    outcome = api.invoke({"ping": 1})
    thread = sigterm_when(lambda: api.log.count(("next", None)) == 2, api)

    run("tests.adapter.runtime.apps.plain", stream=False, graceful_shutdown=False)
    thread.join()

    assert outcome.wait().json()["echo"] == {"ping": 1}
    assert not api.extensions


def test_the_command_line_serves_until_sigterm(api: RuntimeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", api.address)
    monkeypatch.setenv("ADAPTER_RUNTIME_GRACEFUL_SHUTDOWN", "false")
    # A stdout that cannot be reconfigured (not a text file) is left as it is.
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    api.invoke({"ping": 2})
    thread = sigterm_when(lambda: api.log.count(("next", None)) == 2, api)

    assert main(["tests.adapter.runtime.apps.plain"]) == 0
    thread.join()


@pytest.mark.parametrize(
    ("environ", "argv", "message"),
    [
        pytest.param({}, [], "no handler: pass it (module.attribute) or set _HANDLER", id="no-handler"),
        pytest.param({"AWS_LAMBDA_RUNTIME_API": ""}, ["m.h"], "AWS_LAMBDA_RUNTIME_API must be host:port", id="no-api"),
        pytest.param(
            {"ADAPTER_RUNTIME_STREAM": "maybe"}, ["m.h"], "ADAPTER_RUNTIME_STREAM must be true or false", id="flag"
        ),
        pytest.param(
            {"ADAPTER_RUNTIME_DEADLINE_MARGIN_MS": "-5"},
            ["m.h"],
            "ADAPTER_RUNTIME_DEADLINE_MARGIN_MS must be a whole number of milliseconds, not '-5'",
            id="margin",
        ),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("_HANDLER", raising=False)
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["a.b", "c.d"]) == 2
    assert "usage: python -m adapter.runtime [module.handler]" in capsys.readouterr().err


def test_a_negative_margin_given_to_run_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapter import ConfigurationError

    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="deadline_margin must be 0 or more seconds"):
        run("m.h", deadline_margin=-1)


def test_a_runtime_api_that_goes_away_ends_the_process_with_status_1(
    api: RuntimeAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", api.address)
    monkeypatch.setenv("_HANDLER", "tests.adapter.runtime.apps.plain")
    monkeypatch.setenv("ADAPTER_RUNTIME_STREAM", "yes")
    monkeypatch.setenv("ADAPTER_RUNTIME_DEADLINE_MARGIN_MS", "250")
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(logging.getLogger(), "level", logging.getLogger().level)
    monkeypatch.setattr(logging.getLogger("adapter.runtime"), "level", logging.getLogger("adapter.runtime").level)
    api.shutdown_all()

    assert main([]) == 1
    assert "Runtime API failure, exiting" in caplog.text or logging.getLogger().handlers


def test_the_command_line_in_its_own_process_shuts_down_on_sigterm(api: RuntimeAPI, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    environ = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "RUNTIME_TEST_JOURNAL": str(journal),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "adapter.runtime", "tests.adapter.runtime.apps.handler"],
        env=environ,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        outcome = api.invoke(make_function_url_event(path="/hello"))
        assert outcome.wait().json()["body"] == "hello"
        api.wait_for("extension-next")
        with api.condition:
            api.condition.wait_for(lambda: api.log.count(("next", None)) == 2, timeout=20)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:  # pragma: no cover - only when the test fails
            process.kill()
            process.communicate()

    assert process.returncode == 0, output
    assert journal.read_text().splitlines() == ["startup", "shutdown"]
    assert b"SIGTERM: shutting down" in output


def test_the_exec_wrapper_starts_the_runtime_with_the_functions_handler(api: RuntimeAPI) -> None:
    environ = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "LAMBDA_TASK_ROOT": str(ROOT),
        "_HANDLER": "tests.adapter.runtime.apps.plain",
        "ADAPTER_RUNTIME_PYTHON": sys.executable,
    }
    # As Lambda runs it: the wrapper, then the managed runtime's own start command.
    process = subprocess.Popen(
        [str(ROOT / "adapter" / "runtime" / "bootstrap"), "/var/runtime/bootstrap"],
        env=environ,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert api.invoke({"via": "wrapper"}).wait().json()["echo"] == {"via": "wrapper"}
        api.wait_for("extension-next")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:  # pragma: no cover - only when the test fails
            process.kill()
            process.communicate()

    assert process.returncode == 0, output
