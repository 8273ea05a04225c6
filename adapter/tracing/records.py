"""X-Ray subsegments for the records that `adapter.triggers` hands to handlers, one per record.

Importing this module imports the X-Ray SDK; `xray_record_tracer()` in `adapter.tracing` imports it only when
tracing is on. In Lambda, the invocation's segment is recorded by Lambda itself and named by `_X_AMZN_TRACE_ID`
(https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html): each record becomes a subsegment of it, and
the AWS calls a handler makes (botocore is patched) nest under the record they were made for, also from a worker
thread, since the current entity lives in a context variable that `asyncio.to_thread` copies.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from adapter.tracing.xray import XRayTracer, current_entities, enter_invocation

# The SDK drops these from entity names, with a warning each time (aws_xray_sdk/core/models/entity.py).
_INVALID_NAME_CHARACTERS = str.maketrans("", "", "?;*()!$~^<>")


class XRayRecordTracer:
    """Gives each record handled in a sampled Lambda invocation an X-Ray subsegment named after its source and
    handler ("SQS record_clicks"), annotated with `source`, `record` (its id) and `handler`."""

    def __init__(self, service: str, *, sampling_rules: Mapping[str, Any] | None = None) -> None:
        # Configures the SDK's recorder (and patches botocore) as the HTTP middleware does; the same settings.
        self._recorder: Any = XRayTracer(service, sampling_rules=sampling_rules, lambda_mode=True)._recorder

    def start(self, source: str, item_id: str, handler: str) -> _RecordSubsegment | None:
        entered = enter_invocation()
        if entered is None:
            return None
        facade, previous = entered
        subsegment = self._recorder.begin_subsegment(f"{source} {handler}".translate(_INVALID_NAME_CHARACTERS))
        subsegment.put_annotation("source", source)
        subsegment.put_annotation("record", item_id)
        subsegment.put_annotation("handler", handler)
        return _RecordSubsegment(self._recorder, facade, subsegment, previous)


class _RecordSubsegment:
    def __init__(self, recorder: Any, facade: Any, subsegment: Any, previous: tuple[Any, ...]) -> None:
        self._recorder = recorder
        self._facade = facade
        self._subsegment = subsegment
        self._previous = previous

    def finish(self, error: BaseException | None) -> None:
        if error is not None:
            max_trace_back = self._recorder.max_trace_back
            stack = traceback.extract_tb(error.__traceback__)[-max_trace_back:] if max_trace_back else []
            self._subsegment.add_exception(error, stack)
        # End this record's subsegment whatever the handler left open, then give the context back as it was.
        current_entities.set((self._facade, self._subsegment))
        self._recorder.end_subsegment()
        current_entities.set(self._previous)
