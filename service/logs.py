"""JSON log lines: one object per line, so a log shipper needs no parsing rules."""

import json
import logging
import logging.handlers
import queue
import sys
import time
from typing import Any


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "msg", ...fields passed as extra={"fields": {...}}}."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"), default=str)


class BackgroundStderrHandler(logging.handlers.QueueHandler):
    """Formats on the caller's thread, writes to stderr on a thread of its own: the event loop
    logs a line per request, and a write is a syscall that gives up the interpreter lock, to be
    won back from busy preprocessing threads. Lines still written at exit are flushed."""

    def __init__(self) -> None:
        super().__init__(queue.SimpleQueue())
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(message)s"))  # the line is formatted already
        self.listener: logging.handlers.QueueListener | None = logging.handlers.QueueListener(
            self.queue, stream
        )
        self.listener.start()

    def close(self) -> None:
        """Writes what is queued, then stops the thread (logging.shutdown calls it at exit)."""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        super().close()


def logging_config(level: str) -> dict[str, Any]:
    """dictConfig for the service and uvicorn (uvicorn's own access log is off: we log requests)."""
    handler = {"()": BackgroundStderrHandler, "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"level": "WARNING"},
        },
    }
