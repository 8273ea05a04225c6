"""`run()`: the runtime's entry point, configured by arguments or by the function's environment variables."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from adapter.exceptions import ConfigurationError
from adapter.runtime.client import RuntimeAPIError, RuntimeClient
from adapter.runtime.logs import configure_logging
from adapter.runtime.loop import Runtime, initialize

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def run(
    handler: str | None = None,
    *,
    stream: bool | None = None,
    deadline_margin: float | None = None,
    graceful_shutdown: bool | None = None,
) -> None:
    """Runs the function: init (the handler imported, a `LambdaAdapter`'s lifespan started), then invocations
    until Lambda shuts the environment down.

    Each option not given is read from the environment, where a function's configuration can set it:

    - `handler`: `module.attribute`, as in Lambda's Handler setting (default: `_HANDLER`, which Lambda sets from it).
    - `stream`: stream HTTP responses (`ADAPTER_RUNTIME_STREAM=true`); see `Runtime`. Default: buffered.
    - `deadline_margin`: seconds before the deadline at which a request still running is answered 504
      (`ADAPTER_RUNTIME_DEADLINE_MARGIN_MS`, in milliseconds). Default: 0.5.
    - `graceful_shutdown`: register the internal extension that makes Lambda send SIGTERM, on which the lifespan
      shutdown runs (`ADAPTER_RUNTIME_GRACEFUL_SHUTDOWN=false` turns it off). Default: on.

    Bad settings raise `ConfigurationError` before anything is fetched.
    """
    environ = os.environ
    spec = handler if handler is not None else environ.get("_HANDLER", "")
    if not spec:
        raise ConfigurationError("no handler: pass it (module.attribute) or set _HANDLER, as Lambda does")
    address = environ.get("AWS_LAMBDA_RUNTIME_API", "")
    if stream is None:
        stream = _flag(environ, "ADAPTER_RUNTIME_STREAM", default=False)
    if graceful_shutdown is None:
        graceful_shutdown = _flag(environ, "ADAPTER_RUNTIME_GRACEFUL_SHUTDOWN", default=True)
    if deadline_margin is None:
        deadline_margin = milliseconds_setting(environ, "ADAPTER_RUNTIME_DEADLINE_MARGIN_MS", default=500) / 1000
    try:
        client = RuntimeClient(address)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if deadline_margin < 0:
        raise ConfigurationError(f"deadline_margin must be 0 or more seconds, not {deadline_margin!r}")
    loaded: Callable[..., Any] = initialize(spec, client, graceful_shutdown=graceful_shutdown)
    try:
        Runtime(loaded, client, stream=stream, deadline_margin=deadline_margin).serve()
    except RuntimeAPIError:
        client.close()
        raise


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python -m adapter.runtime [module.handler]", file=sys.stderr)
        return 2
    # Log records go where, and as, the managed runtime writes them (logs.py).
    configure_logging()
    try:
        run(argv[0] if argv else None)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeAPIError as error:
        # Lambda's word for this state: "Non-recoverable state. Runtime should exit promptly."
        logging.getLogger("adapter.runtime").error("Runtime API failure, exiting: %s", error)
        return 1
    return 0


def _flag(environ: os._Environ[str], name: str, *, default: bool) -> bool:
    value = environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def milliseconds_setting(environ: os._Environ[str], name: str, *, default: int) -> int:
    value = environ.get(name)
    if value is None:
        return default
    if not value.strip().isdigit():
        raise ConfigurationError(f"{name} must be a whole number of milliseconds, not {value!r}")
    return int(value)
