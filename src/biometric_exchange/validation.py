"""Turning pydantic validation errors into one message that names the field."""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError, source: str) -> str:
    """``source: field.path: problem`` for each problem, one per line."""
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"]) or "(document)"
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{source}: {location}: {message}")
    return "\n".join(lines)
