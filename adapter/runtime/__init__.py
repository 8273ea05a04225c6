"""A Lambda runtime for ASGI applications: the invocation loop talks to the Lambda Runtime API itself, in the
function's own process, so that responses can stream, work can run after the response, the lifespan shutdown runs
on SIGTERM and a request that runs out of time is answered 504 instead of cut off.

As the `bootstrap` of a `provided.al2023` function, or on the managed Python runtime through
`AWS_LAMBDA_EXEC_WRAPPER=/var/task/adapter/runtime/bootstrap`, with the function's usual Handler setting:

```sh
python -m adapter.runtime sample_app.handler.handler
```
"""

from __future__ import annotations

from adapter.runtime.invocation import after_response
from adapter.runtime.loop import Runtime
from adapter.runtime.main import run

__all__ = ["Runtime", "after_response", "run"]
