from __future__ import annotations

import subprocess
import sys

import adapter


def test_public_names_are_sorted_and_importable() -> None:
    assert adapter.__all__ == sorted(adapter.__all__)
    for name in adapter.__all__:
        assert hasattr(adapter, name)
    assert issubclass(adapter.UnsupportedEvent, adapter.AdapterError)
    assert issubclass(adapter.MalformedEvent, adapter.EventError)
    assert issubclass(adapter.ConfigurationError, ValueError)


def test_importing_the_adapter_pulls_in_no_web_framework_or_aws_sdk() -> None:
    # The core must stay cheap to import in a cold start: nothing beyond the standard library.
    modules = "('starlette', 'botocore', 'aws_xray_sdk', 'anyio')"
    code = f"import sys, adapter; print(' '.join(m for m in {modules} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert output == ""
