"""Bulk import of links: a Step Functions Distributed Map reads the uploaded CSV file and hands its rows to the
function in batches (template.yaml, `ImportStateMachine`); `import_batch` writes one batch.

Each batch arrives as the Map state's item batcher builds it (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html):
`{"Items": [{"index": 0, "row": {"url": ..., "code": ..., "expires_at": ...}}, ...], "BatchInput": {...}}`,
where `index` is the row's position in the file (`$$.Map.Item.Index`), so its line is `index + 2` after the
header, and `BatchInput` names the import (the execution's name).

Writing a batch twice changes nothing (a Map state retries a batch whose invocation failed or timed out): a
row without a code gets one derived from the import and its position, and a code that already holds the same
URL is counted as skipped. A code that holds another link is a failure of that row, never an overwrite.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sample_app import inputs
from sample_app.links import LinkStore
from sample_app.models import LINK, Link

TASK = "import-links"
# The state machine's batches are 500 rows (MaxItemsPerBatch); a batch is written well within the timeout.
MAX_ROWS = 1000


class InvalidBatch(ValueError):
    """The payload is not a batch of rows."""


@dataclass(frozen=True)
class ImportBatch:
    import_id: str
    items: list[dict[str, Any]]

    @classmethod
    def from_payload(cls, payload: Any) -> ImportBatch:
        if not isinstance(payload, dict):
            raise InvalidBatch("the payload must be a JSON object")
        items, batch_input = payload.get("Items"), payload.get("BatchInput")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise InvalidBatch("Items must be a list of objects")
        if len(items) > MAX_ROWS:
            raise InvalidBatch(f"a batch has at most {MAX_ROWS} rows, not {len(items)}")
        import_id = batch_input.get("import_id") if isinstance(batch_input, dict) else None
        if not isinstance(import_id, str) or not import_id:
            raise InvalidBatch("BatchInput.import_id must name the import")
        return cls(import_id, items)


@dataclass
class Summary:
    import_id: str
    created: int = 0
    skipped: int = 0
    # Each row not imported: {"line": ..., "error": ...}, in the file's order.
    failed: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    line: int
    code: str
    url: str
    expires_at: datetime.datetime | None


def import_batch(store: LinkStore, batch: ImportBatch) -> Summary:
    summary = Summary(batch.import_id)
    rows: dict[str, _Row] = {}
    for position, item in enumerate(batch.items):
        row = _row(batch.import_id, position, item, summary)
        if row is None:
            continue
        earlier = rows.get(row.code)
        if earlier is not None:
            summary.failed.append({"line": row.line, "error": f"the code {row.code!r} is on line {earlier.line} too"})
            continue
        rows[row.code] = row

    existing = store.existing(list(rows))
    now = datetime.datetime.now(datetime.UTC)
    new: list[Link] = []
    for row in rows.values():
        found = existing.get(row.code)
        if found is None:
            new.append(store.Link(code=row.code, url=row.url, created_at=now, version=1, expires_at=row.expires_at))
        elif found.kind == LINK and found.url == row.url:
            summary.skipped += 1
        else:
            summary.failed.append({"line": row.line, "error": f"the code {row.code!r} is taken"})
    store.put_all(new)
    summary.created = len(new)
    summary.failed.sort(key=lambda failure: failure["line"] or 0)
    return summary


def _row(import_id: str, position: int, item: dict[str, Any], summary: Summary) -> _Row | None:
    index, row = item.get("index"), item.get("row")
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(row, dict):
        summary.failed.append({"line": None, "error": f"item {position} is not {{'index': n, 'row': {{...}}}}"})
        return None
    # The header is line 1. (A quoted value with a line break in it would shift the lines after it.)
    line = index + 2
    url = row.get("url")
    url_error = inputs.url_error(url)
    if url_error is not None:
        summary.failed.append({"line": line, "error": f"the URL {url_error}"})
        return None
    code = row.get("code") or _derived_code(import_id, index)
    if not isinstance(code, str) or not inputs.is_code(code):
        summary.failed.append({"line": line, "error": f"the code {code!r} is not 1 to 64 letters, digits, '-' or '_'"})
        return None
    expires_at = None
    if row.get("expires_at"):
        try:
            expires_at = datetime.datetime.fromisoformat(str(row["expires_at"]))
        except ValueError:
            expires_at = None
        if expires_at is None or expires_at.tzinfo is None:
            summary.failed.append(
                {"line": line, "error": f"expires_at {row['expires_at']!r} is not an ISO 8601 time with a UTC offset"}
            )
            return None
    assert isinstance(url, str)
    return _Row(line, code, url, expires_at)


def _derived_code(import_id: str, index: int) -> str:
    """The code of a row that has none: the same each time the same row of the same import is written."""
    digest = hashlib.sha256(f"{import_id}\n{index}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()
