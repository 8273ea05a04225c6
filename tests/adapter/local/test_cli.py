"""`python -m adapter serve | invoke | event`, in this process and as real subprocesses, garbage included."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapter.local.cli import Reloader, main
from adapter.local.runtime import FunctionConfig, FunctionRuntime, HandlerError, import_handler
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def restore_environ_and_path() -> Iterator[None]:
    saved_path = list(sys.path)
    yield
    sys.path[:] = saved_path


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapter", *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_event_piped_into_invoke() -> None:
    event = run(
        "event",
        "--format",
        "http-v2",
        "--method",
        "POST",
        "--path",
        "/echo/x?a=1",
        "--body",
        '{"a": 1}',
        "--header",
        "Content-Type: application/json",
    )
    assert event.returncode == 0, event.stderr
    assert json.loads(event.stdout)["rawQueryString"] == "a=1"
    invoked = run("invoke", "tests.adapter.local.handlers.handler", "--event", "-", stdin=event.stdout)
    assert invoked.returncode == 0, invoked.stderr
    result = json.loads(invoked.stdout)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["path"] == "/echo/x"
    assert invoked.stderr.splitlines()[0].startswith("START RequestId: ")
    assert invoked.stderr.splitlines()[-1].startswith("REPORT RequestId: ")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("invoke", "no_such_module.handler", "--event", "-"),
            "{}",
            "error: cannot load the handler: Unable to import module 'no_such_module': No module named",
        ),
        (("invoke", "handler", "--event", "-"), "{}", "error: cannot load the handler: Bad handler 'handler'"),
        (
            ("invoke", "tests.adapter.local.handlers.handler", "--event", "-"),
            "{not json",
            "error: the event from standard input is not valid JSON: Expecting property name",
        ),
        (
            ("invoke", "tests.adapter.local.handlers.handler", "--event", "missing.json"),
            "",
            "error: cannot read the event file 'missing.json': No such file or directory",
        ),
        (("event", "--format", "alb", "--stage", "live"), "", "error: a alb has no stages"),
        (
            ("serve", "tests.adapter.local.handlers.nothing_here", "--port", "0"),
            "",
            "error: cannot load the handler: Handler 'nothing_here' missing on module 'tests.adapter.local.handlers'",
        ),
    ],
)
def test_garbage_gives_one_error_line(args: tuple[str, ...], stdin: str, message: str) -> None:
    result = run(*args, stdin=stdin)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr
    assert result.stdout == ""


def test_help_of_each_command() -> None:
    for command in ("serve", "invoke", "event"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage: python -m adapter " + command in result.stdout


def test_invoke_prints_the_error_payload_of_a_failed_invocation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_text("{}")
    assert main(["invoke", "tests.adapter.local.handlers.raises", "--event", str(event_file), "--env", "A=1"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "the handler failed on purpose")
    assert os.environ["A"] == "1" and os.environ["AWS_LAMBDA_FUNCTION_NAME"] == "local-function"


def test_invoke_reads_standard_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"body": "{\\"statusCode\\": 204}"}'))
    assert main(["invoke", "tests.adapter.local.handlers.raw", "--event", "-", "--timeout", "2", "--memory", "64"]) == 0
    assert json.loads(capsys.readouterr().out) == {"statusCode": 204}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoke", "--event", "-"], "error: name the handler"),
        (
            ["invoke", "tests.adapter.local.handlers.raw", "--event", "-", "--env", "NOEQUALS"],
            "error: --env takes NAME=VALUE",
        ),
        (["invoke", "tests.adapter.local.handlers.raw", "--event", "-", "--timeout", "0"], "must be positive"),
        (["event", "--header", "no colon"], "error: --header takes 'Name: value'"),
        (["event", "--path", "relative"], "error: --path must start with '/'"),
        (["event", "--body-file", "/no/such/file"], "error: cannot read the body file"),
        (
            ["invoke", "tests.adapter.local.handlers.raw", "--event", "-", "--template", "/no/such.yaml"],
            "error: cannot read the template",
        ),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(args) == 1
    assert message in capsys.readouterr().err


def test_handler_import_failure_shows_the_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "broken_handler.py").write_text("import not_installed_anywhere\n")
    sys.path.insert(0, str(tmp_path))
    (tmp_path / "event.json").write_text("{}")
    assert main(["invoke", "broken_handler.handler", "--event", str(tmp_path / "event.json")]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1] == (
        "error: cannot load the handler: Unable to import module 'broken_handler': ModuleNotFoundError:"
        " No module named 'not_installed_anywhere'"
    )


def test_event_with_each_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"\x00\x01")
    assert (
        main(
            [
                "event",
                "--format",
                "rest",
                "--stage",
                "v1",
                "--path",
                "/links",
                "--body-file",
                str(body),
                "--binary-media-type",
                "application/octet-stream",
                "--header",
                "content-type: application/octet-stream",
            ]
        )
        == 0
    )
    event = json.loads(capsys.readouterr().out)
    assert (event["path"], event["requestContext"]["path"], event["body"]) == ("/links", "/v1/links", "AAE=")
    assert main(["event", "--format", "alb", "--multi-value-headers", "--base-path", "/api", "--body", "x"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert (event["path"], event["multiValueHeaders"]["content-length"]) == ("/api/", ["1"])


def test_event_from_the_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["event", "--template", str(ROOT / "template.yaml"), "--path", "/links"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert (event["resource"], event["requestContext"]["stage"], event["requestContext"]["path"]) == (
        "/{proxy+}",
        "live",
        "/live/links",
    )
    assert main(["event", "--template", str(ROOT / "template.yaml"), "--format", "http-v2"]) == 0
    assert json.loads(capsys.readouterr().out)["routeKey"] == "$default"


def test_event_without_a_route(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    template = tmp_path / "template.json"
    template.write_text(
        json.dumps(
            {
                "Resources": {
                    "Fn": {
                        "Type": "AWS::Serverless::Function",
                        "Properties": {
                            "Handler": "app.handler",
                            "Events": {"Get": {"Type": "Api", "Properties": {"Path": "/links", "Method": "get"}}},
                        },
                    }
                }
            }
        )
    )
    assert main(["event", "--template", str(template), "--path", "/other"]) == 1
    assert "error: no route of the API takes GET /other" in capsys.readouterr().err


def kill_self_when_answering(url: str, signum: int, seen: list[str]) -> threading.Thread:
    """Once `url` answers, records its body and sends this process `signum` (which stops `serve`)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                seen.append(httpx.get(url, timeout=2).text)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_serve_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    previous = signal.getsignal(signal.SIGTERM)
    seen: list[str] = []
    watcher = kill_self_when_answering(f"http://127.0.0.1:{port}/v2/hello", signal.SIGTERM, seen)
    try:
        assert (
            main(
                [
                    "serve",
                    "tests.adapter.local.handlers.handler",
                    "--port",
                    str(port),
                    "--format",
                    "http-v2",
                    "--stage",
                    "v2",
                    "--gateway-timeout",
                    "5",
                ]
            )
            == 0
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    watcher.join()
    assert seen == ["hello"]
    assert f"behind a local http-v2 API on http://127.0.0.1:{port}/v2/" in capsys.readouterr().err


def test_serve_on_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "tests.adapter.local.handlers.handler", "--port", str(port), "--format", "alb"]) == 1
    assert f"error: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_reload_restarts_on_a_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "reloaded_app.py"
    module.write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'one'}\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{ROOT}")
    monkeypatch.chdir(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    seen: list[str] = []

    def edit_then_interrupt() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "one" not in seen:
            try:
                seen.append(httpx.get(url, timeout=2).text)
            except httpx.TransportError:
                time.sleep(0.05)
        time.sleep(0.05)
        module.write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'two'}\n")
        while time.monotonic() < deadline and "two" not in seen:
            try:
                seen.append(httpx.get(url, timeout=2).text)
            except httpx.TransportError:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=edit_then_interrupt, daemon=True)
    thread.start()
    assert (
        main(
            [
                "serve",
                "reloaded_app.handler",
                "--reload",
                "--format",
                "function-url",
                "--port",
                str(port),
                "--template",
                str(ROOT / "template.yaml"),
            ]
        )
        == 0
    )
    thread.join()
    assert "one" in seen and "two" in seen


def test_reloader_stops_when_told(tmp_path: Path) -> None:
    reloader = Reloader([sys.executable, "-c", "import time; time.sleep(30)"], [tmp_path], interval=0.05)
    thread = threading.Thread(target=reloader.run)
    thread.start()
    time.sleep(0.2)
    reloader.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    from adapter.local import cli

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdout.readline() == b"1\n"
    original = subprocess.Popen.wait

    def impatient(self: subprocess.Popen[bytes], timeout: float | None = None) -> int:
        return original(self, timeout=None if timeout is None else 0.2)

    setattr(subprocess.Popen, "wait", impatient)  # noqa: B010
    try:
        cli._stop(child)
    finally:
        setattr(subprocess.Popen, "wait", original)  # noqa: B010
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL


# ---- the runtime on its own --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nodots", "Bad handler 'nodots'"),
        ("a.b-c", "Bad handler 'a.b-c'"),
        ("tests.adapter.local.handlers:missing", "Handler 'missing' missing on module 'tests.adapter.local.handlers'"),
        (
            "tests.adapter.local.handlers.not_callable",
            "Handler 'not_callable' on module 'tests.adapter.local.handlers' is a int, not callable",
        ),
        (
            "tests.adapter.local.no_such.handler",
            "Unable to import module 'tests.adapter.local.no_such': No module named 'tests.adapter.local.no_such'",
        ),
    ],
)
def test_handler_loading_errors(spec: str, message: str) -> None:
    with pytest.raises(HandlerError) as caught:
        import_handler(spec)
    assert str(caught.value).startswith(message) and caught.value.details == ""


def test_a_module_that_raises_at_import(tmp_path: Path) -> None:
    (tmp_path / "raising_module.py").write_text("raise ValueError('bad settings')\n")
    sys.path.insert(0, str(tmp_path))
    with pytest.raises(
        HandlerError, match="Unable to import module 'raising_module': ValueError: bad settings"
    ) as caught:
        import_handler("raising_module:handler")
    assert "Traceback" in caught.value.details


def test_runtime_puts_the_code_folder_on_the_path(tmp_path: Path) -> None:
    (tmp_path / "folder_handler.py").write_text("def handler(event, context):\n    return context.function_name\n")
    saved = dict(os.environ)
    runtime = FunctionRuntime(FunctionConfig("folder_handler.handler", name="fn", code_dir=tmp_path))
    try:
        runtime.start()
        outcome = runtime.invoke("{}").wait()
        assert outcome.result == '"fn"'
        assert repr(runtime.config.name) == "'fn'"
    finally:
        runtime.close()
        os.environ.clear()
        os.environ.update(saved)


def test_in_process_garbage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[1,")
    (tmp_path / "good.json").write_text("{}")
    assert main(["invoke", "nodots", "--event", str(tmp_path / "good.json")]) == 1
    assert main(["invoke", "tests.adapter.local.handlers.raw", "--event", str(tmp_path / "bad.json")]) == 1
    assert main(["invoke", "tests.adapter.local.handlers.raw", "--event", str(tmp_path / "missing.json")]) == 1
    assert main(["event", "--format", "function-url", "--stage", "x"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: cannot load the handler: Bad handler 'nodots'")
    assert err[1].startswith(f"error: the event from '{tmp_path / 'bad.json'}' is not valid JSON")
    assert err[2].startswith("error: cannot read the event file")
    assert err[3] == "error: a function-url has no stages; --stage applies to rest, http-v1, http-v2"


def test_invoke_with_a_template(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template.json"
    template.write_text(
        json.dumps(
            {
                "Resources": {
                    "Fn": {
                        "Type": "AWS::Serverless::Function",
                        "Properties": {
                            "Handler": "tests.adapter.local.handlers.raw",
                            "Timeout": 7,
                            "MemorySize": 1024,
                            "Environment": {
                                "Variables": {
                                    "FROM_TEMPLATE": "t",
                                    "FROM_SHELL": "t",
                                    "IF": {"Fn::If": ["C", "a", "b"]},
                                }
                            },
                        },
                    }
                }
            }
        )
    )
    (tmp_path / "event.json").write_text(json.dumps({"body": json.dumps({"statusCode": 200})}))
    monkeypatch.setenv("FROM_SHELL", "shell")
    assert main(["invoke", "--template", str(template), "--event", str(tmp_path / "event.json")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"statusCode": 200}
    assert (os.environ["FROM_TEMPLATE"], os.environ["FROM_SHELL"]) == ("t", "shell")
    assert os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert "The template's environment variable IF (Fn::If is not resolved locally) is left unset" in captured.err


def test_reloader_with_a_child_that_already_exited(tmp_path: Path) -> None:
    reloader = Reloader([sys.executable, "-c", "pass"], [tmp_path], interval=0.05)
    thread = threading.Thread(target=reloader.run)
    thread.start()
    time.sleep(0.5)
    reloader.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_context_repr() -> None:
    from adapter.local.context import LocalContext

    context = LocalContext(aws_request_id="id", function_name="fn", memory_limit_in_mb=128, timeout=0)
    assert repr(context) == "LocalContext(aws_request_id='id', function_name='fn')"
    assert context.get_remaining_time_in_millis() == 0
