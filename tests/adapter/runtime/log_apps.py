"""A handler that logs a record of each kind, so that what the runtimes write for them can be compared."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

logger = logging.getLogger("log_apps")

# During init, before any invocation: no request id yet.
logging.getLogger().warning("module loaded")


def handler(event: Any, context: Any) -> dict[str, Any]:
    logger.debug("debug %s", "detail")
    logger.info("info")
    logger.warning("warning with %s", "args", extra={"order": 7, "tags": ["a", "b"], "price": Decimal("1.50")})
    logger.error("two\nlines")
    logger.log(25, "a level of its own")
    logger.warning({"message": "a dict", "n": 1})
    logger.critical("critique: é ✓")
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("it failed")
    return {"ok": True}
