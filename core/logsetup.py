"""Logging: loguru to a rotating file, never to the terminal the console draws on.

`setup_logging` removes every other loguru sink (the default one writes to stderr, which would
scribble over the TUI), installs the redaction patcher, and routes the standard `logging`
module (ccxt, web3, asyncio, warnings) into the same file.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from loguru import logger

from core.redact import redact_filter, redact_record
from core.settings import Settings

_LINE = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}\n"


def _format(record: Any) -> str:
    # A format callable gets no automatic "{exception}": the redacted text comes from extra.
    if record["extra"].get("redacted_exc"):
        return _LINE + "{extra[redacted_exc]}"
    return _LINE


def _private_opener(path: str, flags: int) -> int:
    # Logs are redacted, but they still describe a trader's positions: owner-only.
    return os.open(path, flags, 0o600)


class _InterceptHandler(logging.Handler):
    """Forward standard-library log records to loguru (and so through the redactor)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Report the caller of the logging call, not the logging module's own frames.
        frame, depth = sys._getframe(1), 1
        while frame.f_back is not None and frame.f_code.co_filename == logging.__file__:
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def setup_logging(settings: Settings, *, enqueue: bool = True) -> Path:
    """Send all logging to the rotating file in `settings.logging`; return its path.

    Call once at start-up; it replaces any sink added before. `enqueue` writes from a
    background thread so a slow disk never stalls the event loop.
    """
    path = settings.resolve_path(settings.logging.path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    logger.remove()
    logger.configure(patcher=redact_record)
    logger.add(
        path,
        level=settings.logging.level,
        format=_format,
        filter=redact_filter,  # again per sink, in case someone replaces the global patcher
        rotation=settings.logging.rotation_mb * 1_000_000,
        retention=settings.logging.retention_files,
        enqueue=enqueue,
        backtrace=False,
        diagnose=False,  # diagnose would print local variables, secrets among them
        encoding="utf-8",
        opener=_private_opener,
    )
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.NOTSET, force=True)
    logging.captureWarnings(True)
    return path


def shutdown_logging() -> None:
    """Flush queued records and close the file (at exit, or between tests)."""
    logger.complete()
    logger.remove()
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)
