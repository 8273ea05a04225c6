"""Non-HTTP events in the same function: SQS, Kinesis, DynamoDB Streams, S3, SNS, EventBridge and schedules, and
direct invocations (Step Functions tasks), each handed to a typed handler that shares the application's lifespan.

```python
triggers = Triggers()

@triggers.on_sqs(queue="clicks")
def count_click(record: SQSRecord, state: State) -> None: ...

handler = LambdaAdapter(app, triggers=triggers)
```
"""

from __future__ import annotations

from adapter.exceptions import BatchFailed, InvalidPayload
from adapter.triggers.batch import RecordSpan, RecordTracer
from adapter.triggers.direct import TaskError
from adapter.triggers.records import (
    DynamoDBStreamRecord,
    EventBridgeEvent,
    KinesisRecord,
    Record,
    S3Record,
    ScheduledEvent,
    SNSMessage,
    SQSRecord,
)
from adapter.triggers.router import Triggers

__all__ = [
    "BatchFailed",
    "DynamoDBStreamRecord",
    "EventBridgeEvent",
    "InvalidPayload",
    "KinesisRecord",
    "Record",
    "RecordSpan",
    "RecordTracer",
    "S3Record",
    "SNSMessage",
    "SQSRecord",
    "ScheduledEvent",
    "TaskError",
    "Triggers",
]
