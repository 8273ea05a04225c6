"""`python -m adapter serve | invoke | event`: the command line of the local Lambda path."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapter.exceptions import ConfigurationError
from adapter.local.events import FORMATS, ClientRequest, Gateway, build_event
from adapter.local.gateway import GatewayServer
from adapter.local.runtime import FunctionConfig, FunctionRuntime, HandlerError
from adapter.local.template import FunctionSpec, TemplateError, load_template

logger = logging.getLogger("adapter.local")


class UsageError(Exception):
    """A command line that cannot run; the message says what to change."""


def _add_function_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "handler",
        nargs="?",
        help="the handler, as in Lambda's Handler setting (sample_app.handler.handler) or as module:function;"
        " optional with --template",
    )
    parser.add_argument("--template", type=Path, help="read the function (and its API) from this SAM template")
    parser.add_argument("--function", help="the template's function to run (its logical id), if it has several")
    parser.add_argument(
        "--timeout", type=float, help="the function's timeout in seconds (default: 3, or the template's)"
    )
    parser.add_argument(
        "--memory", type=int, help="the function's memory in MB, reported and in the context (default: 128)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set an environment variable for the function (repeatable); wins over the template and the shell",
    )


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="the event source: REST API, HTTP API payload 1.0 or 2.0, Function URL or ALB"
        " (default: the template's API, else rest)",
    )
    parser.add_argument("--stage", help="the stage (rest: live unless the template says; HTTP API: $default)")
    parser.add_argument("--base-path", default="", help="serve under a custom domain's base path mapping instead")
    parser.add_argument(
        "--binary-media-type",
        action="append",
        metavar="TYPE",
        help="rest: a binary media type (repeatable; default: */*, or the template's)",
    )
    parser.add_argument(
        "--multi-value-headers", action="store_true", help="alb: the target group has multi-value headers on"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m adapter",
        description="Run a Lambda handler locally behind an emulated API Gateway, Function URL or ALB.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{serve,invoke,event}")

    serve = commands.add_parser(
        "serve",
        help="serve HTTP, turning each request into the service's event for the handler",
        description="Serve HTTP on a local port: each request becomes the event API Gateway (or a Function URL,"
        " or an ALB) would send, runs through the handler in this process, and its result goes back as the service"
        " would send it. Invocations run one at a time, like one Lambda execution environment.",
    )
    _add_function_options(serve)
    _add_api_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="the port to listen on (default: 3000)")
    serve.add_argument(
        "--gateway-timeout",
        type=float,
        help="the service's integration timeout in seconds (default: 29 for rest, 30 for HTTP APIs, none otherwise)",
    )
    serve.add_argument(
        "--stream",
        action="store_true",
        help="function-url: the URL's InvokeMode is RESPONSE_STREAM, and the function runs under adapter.runtime with"
        " streaming on, each response going out as the app sends it (default: the template's InvokeMode)",
    )
    serve.add_argument("--reload", action="store_true", help="restart when a .py file or the template changes")

    invoke = commands.add_parser(
        "invoke",
        help="run one event through the handler and print its result",
        description="Run one event through the handler, as Lambda would, and print the result (or Lambda's error"
        " payload, with exit status 1). Logs go to standard error.",
    )
    _add_function_options(invoke)
    invoke.add_argument(
        "--event", required=True, help="a JSON file with the event, or - to read it from standard input"
    )

    event = commands.add_parser(
        "event",
        help="print the event a request would become",
        description="Print the event that the service would send the function for one request, to save as a"
        " fixture or to pipe into invoke.",
    )
    _add_api_options(event)
    event.add_argument("--template", type=Path, help="read the API (routes, stage) from this SAM template")
    event.add_argument("--function", help="the template's function, if it has several")
    event.add_argument("--method", default="GET", help="the HTTP method (default: GET)")
    event.add_argument("--path", default="/", help="the path after the stage or base path, with ?query if any")
    event.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="a request header")
    body = event.add_mutually_exclusive_group()
    body.add_argument("--body", help="the request body, as text")
    body.add_argument("--body-file", type=Path, help="the request body, from a file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    _configure_logging()
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "invoke":
            return invoke(args)
        return event(args)
    except HandlerError as error:
        if error.details:
            print(error.details.rstrip(), file=sys.stderr)
        print(f"error: cannot load the handler: {error}", file=sys.stderr)
    except (UsageError, TemplateError, ConfigurationError) as error:
        print(f"error: {error}", file=sys.stderr)
    return 1


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when each record is written (so that redirections apply)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _configure_logging() -> None:
    # Lambda's own lines (START, END, REPORT, errors) bare, as in a function's log stream.
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _spec(args: argparse.Namespace) -> FunctionSpec | None:
    if args.template is None:
        return None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return FunctionSpec(load_template(args.template), args.template, args.function, region)


def function_config(args: argparse.Namespace, spec: FunctionSpec | None) -> FunctionConfig:
    """The function from the template, then the command line's handler, timeout, memory and --env."""
    handler = args.handler or (spec.handler if spec else None)
    if handler is None:
        raise UsageError("name the handler (e.g. sample_app.handler.handler) or give --template")
    environment: dict[str, str] = {}
    if spec is not None:
        for unresolved in spec.unresolved:
            logger.warning("The template's environment variable %s is left unset", unresolved)
        # A variable already set in the shell wins over the template's, which names AWS resources
        # (a table's logical id) that a local run may call otherwise.
        environment = {name: value for name, value in spec.environment.items() if name not in os.environ}
    for item in args.env:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise UsageError(f"--env takes NAME=VALUE, not {item!r}")
        environment[name] = value
    timeout = args.timeout if args.timeout is not None else (spec.timeout if spec else 3.0)
    memory = args.memory if args.memory is not None else (spec.memory if spec else 128)
    if timeout <= 0 or memory <= 0:
        raise UsageError("--timeout and --memory must be positive")
    return FunctionConfig(
        handler,
        name=spec.logical_id if spec else None,
        timeout=timeout,
        memory=memory,
        environment=environment,
        code_dir=spec.code_dir if spec else None,
    )


def gateway_of(args: argparse.Namespace, spec: FunctionSpec | None) -> Gateway:
    """The API from the template, then the command line's format, stage, base path and media types."""
    format = args.format or (spec.default_format() if spec else "rest")
    options: dict[str, Any] = spec.api(format) if spec else {}
    if args.stage is not None:
        options["stage"] = args.stage
    if args.binary_media_type is not None:
        options["binary_media_types"] = args.binary_media_type
    try:
        return Gateway(format, base_path=args.base_path, multi_value_headers=args.multi_value_headers, **options)
    except ValueError as error:
        raise UsageError(str(error)) from None


def serve(args: argparse.Namespace) -> int:
    if args.reload:
        command = [sys.executable, "-m", "adapter", *[arg for arg in args.argv if arg != "--reload"]]
        watched = [Path.cwd(), *([args.template.resolve().parent] if args.template else [])]
        return Reloader(command, watched).run()
    spec = _spec(args)
    gateway = gateway_of(args, spec)
    if args.stream and gateway.format != "function-url":
        raise UsageError("--stream is a Function URL's RESPONSE_STREAM mode: it needs --format function-url")
    # A template's function streams when its Function URL does, and the URL is what is served.
    stream = args.stream or (spec is not None and gateway.format == "function-url" and spec.response_stream)
    runtime = FunctionRuntime(function_config(args, spec), stream=stream)
    runtime.start()
    timeout_option: dict[str, Any] = {} if args.gateway_timeout is None else {"gateway_timeout": args.gateway_timeout}
    try:
        server = GatewayServer((args.host, args.port), gateway, runtime, **timeout_option)
    except OSError as error:
        runtime.close()
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    # SIGTERM (from a supervisor such as --reload, or `kill`) stops the server as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    description = f"{gateway.format} API" if gateway.format in ("rest", "http-v1", "http-v2") else gateway.format
    if stream:
        description += " in RESPONSE_STREAM mode"
    print(
        f"Serving {runtime.config.handler} behind a local {description} on {server.url} (Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        runtime.close(wait=False)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def invoke(args: argparse.Namespace) -> int:
    spec = _spec(args)
    config = function_config(args, spec)
    try:
        payload = sys.stdin.read() if args.event == "-" else Path(args.event).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read the event file {args.event!r}: {error.strerror}") from None
    try:
        json.loads(payload)
    except ValueError as error:
        source = "standard input" if args.event == "-" else repr(args.event)
        raise UsageError(f"the event from {source} is not valid JSON: {error}") from None
    runtime = FunctionRuntime(config)
    runtime.start()
    try:
        outcome = runtime.invoke(payload).wait()
    finally:
        runtime.close(wait=False)
    if outcome.result is None:
        print(json.dumps(outcome.error, indent=2))
        return 1
    print(json.dumps(json.loads(outcome.result), indent=2, ensure_ascii=False))
    return 0


def event(args: argparse.Namespace) -> int:
    gateway = gateway_of(args, _spec(args))
    headers: list[tuple[str, str]] = []
    for item in args.header:
        name, separator, value = item.partition(":")
        if not separator or not name.strip():
            raise UsageError(f"--header takes 'Name: value', not {item!r}")
        headers.append((name.strip(), value.strip()))
    if args.body_file is not None:
        try:
            body = args.body_file.read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read the body file {str(args.body_file)!r}: {error.strerror}") from None
    else:
        body = (args.body or "").encode()
    path, _, query = args.path.partition("?")
    if not path.startswith("/"):
        raise UsageError(f"--path must start with '/', not {args.path!r}")
    if body and not any(name.lower() == "content-length" for name, _ in headers):
        headers.append(("content-length", str(len(body))))
    request = ClientRequest(args.method, gateway.url_prefix + path, query, headers, body)
    built = build_event(gateway, request)
    if built is None:
        raise UsageError(f"no route of the API takes {request.method} {path}")
    print(json.dumps(built, indent=2, ensure_ascii=False))
    return 0


class Reloader:
    """Runs `command` and starts it again whenever a .py file under `paths` (or a template there) changes."""

    def __init__(self, command: list[str], paths: list[Path], interval: float = 0.5) -> None:
        self.command = command
        self.paths = paths
        self.interval = interval
        self.stopping = threading.Event()

    def snapshot(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for root in self.paths:
            for folder, folders, files in os.walk(root):
                # Environments, caches and version control hold nothing to reload for.
                folders[:] = [name for name in folders if not name.startswith((".", "__pycache__", "node_modules"))]
                for name in files:
                    if name.endswith((".py", ".yaml", ".yml", ".json")):
                        path = os.path.join(folder, name)
                        found[path] = os.stat(path).st_mtime
        return found

    def run(self) -> int:
        previous = self.snapshot()
        child = subprocess.Popen(self.command)
        try:
            while not self.stopping.wait(self.interval):
                current = self.snapshot()
                if current != previous:
                    changed = sorted(set(current.items()) ^ set(previous.items()))
                    print(f"Reloading: {changed[0][0]} changed", file=sys.stderr, flush=True)
                    previous = current
                    _stop(child)
                    child = subprocess.Popen(self.command)
        except KeyboardInterrupt:
            pass
        finally:
            _stop(child)
        return 0

    def stop(self) -> None:
        self.stopping.set()


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
