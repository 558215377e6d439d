"""service.logs: JSON lines, written to stderr by a thread of their own, none lost at close."""

import json
import subprocess
import sys

SCRIPT = """
import logging, logging.config
from service.logs import logging_config
logging.config.dictConfig(logging_config("info"))
log = logging.getLogger("service.access")
for i in range(500):
    log.info("request", extra={"fields": {"n": i}})
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("service").exception("failed")
logging.getLogger("service").debug("not at info level")
"""


def test_every_line_reaches_stderr_as_json_before_the_process_exits() -> None:
    """Lines are queued by the caller and written by the handler's thread: at exit (logging's
    shutdown closes the handler) every queued line is still written, in order."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["n"] for line in lines[:-1]] == list(range(500))
    assert all(line["logger"] == "service.access" and line["level"] == "info" for line in lines[:-1])
    assert lines[-1]["level"] == "error" and "ZeroDivisionError" in lines[-1]["exc"]


def test_a_second_configuration_replaces_the_writer_without_losing_lines(capfd) -> None:  # type: ignore[no-untyped-def]
    import logging.config

    from service.logs import logging_config

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config("info"))
        logging.getLogger("t").info("first")
        logging.config.dictConfig(logging_config("info"))  # uvicorn configures again at start
        logging.getLogger("t").info("second")
        for handler in root.handlers:
            handler.close()
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    messages = [
        json.loads(line)["msg"] for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]
    assert messages == ["first", "second"]
