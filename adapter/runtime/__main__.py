"""`python -m adapter.runtime [module.handler]`: the runtime's command line (see `adapter.runtime.run`)."""

from __future__ import annotations

import logging
import os
import sys

from adapter.exceptions import ConfigurationError
from adapter.runtime.client import RuntimeAPIError
from adapter.runtime.main import run


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python -m adapter.runtime [module.handler]", file=sys.stderr)
        return 2
    _configure_output()
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


def _configure_output() -> None:
    """Lines reach the log stream as they are written, and log records have somewhere to go, as under the
    managed runtime (which makes stdout unbuffered and puts its handler on the root logger)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(name)s\t%(message)s"))
        root.addHandler(handler)
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
        root.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
