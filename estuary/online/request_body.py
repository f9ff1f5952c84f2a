"""Reading a request body as JSON within limits: the server's first line against bad input.

The size limit is enforced while the body is read (a declared Content-Length over it is refused
before a byte is read; a chunked body is refused at the first chunk past it), so a 200 MB body
never sits in memory. The nesting depth is measured on the bytes before `json.loads` runs
(Python's parser recurses: ~1,000 levels raise RecursionError). JSON has no NaN or infinity:
`NaN`, `Infinity` (which Python's parser accepts) and numbers beyond float64's range (`1e999`, a
401-digit integer) are refused, so a row never carries a value no JSON client could send back.

>>> body = await read_json(request, BodyLimits(max_bytes=1 << 20))
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.requests import Request

from ..errors import EstuaryError, InvalidInputError

_OPEN, _CLOSE, _QUOTE = (ord("["), ord("{")), (ord("]"), ord("}")), ord('"')
_DELETE = bytes(b for b in range(256) if b not in (*_OPEN, *_CLOSE, _QUOTE))  # all else
PARSE_IN_THREAD = 1 << 20  # bodies bigger than this are parsed off the event loop


class RequestTooLargeError(EstuaryError):
    """A request body over the server's limit (HTTP 413)."""


@dataclass(frozen=True)
class BodyLimits:
    """`max_bytes`: the largest body read (10 MB by default); `max_depth`: the deepest nesting
    of arrays and objects (a batch `{"rows": [{...}]}` needs 3)."""

    max_bytes: int = 10_000_000  # `estuary serve --max-body-mb 10`
    max_depth: int = 32

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_depth < 1:
            raise ValueError(f"body limits must be >= 1, got {self}")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, or `RequestTooLargeError` as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise RequestTooLargeError(_too_large(max_bytes, f"{int(declared):,} bytes declared"))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:  # stop reading: the rest is never pulled from the client
            raise RequestTooLargeError(_too_large(max_bytes, f"over {max_bytes:,} bytes sent"))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, seen: str) -> str:
    return (f"the request body is larger than this server's limit of {limit:,} bytes ({seen}): "
            "send fewer rows per request")


def nesting_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in `body` (exact for valid JSON; brackets inside
    strings do not count). Vectorised: ~50 ms for 10 MB, where a regex pass took seconds."""
    # escapes first, left to right as a parser reads them: `\\` then `\"`; what remains of
    # a string is its quotes, and brackets between an odd and an even quote are inside one
    kept = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _DELETE)
    if not kept:
        return 0
    codes = np.frombuffer(kept, np.uint8)
    quote = codes == _QUOTE
    outside = (np.cumsum(quote) % 2 == 0) & ~quote
    steps = np.zeros(len(codes), np.int64)
    steps[outside & ((codes == _OPEN[0]) | (codes == _OPEN[1]))] = 1
    steps[outside & ((codes == _CLOSE[0]) | (codes == _CLOSE[1]))] = -1
    return int(max(np.cumsum(steps).max(), 0))


def _parse_constant(name: str) -> Any:
    raise InvalidInputError("<body>", f"{name} is not a JSON number: leave a feature's key out "
                                      "to mark it missing")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInputError("<body>", f"the number {text[:40]} is beyond float64's range")
    return value


def _parse_int(text: str) -> int:
    value = int(text)  # over 4,300 digits: ValueError, refused as "not valid JSON"
    try:
        float(value)
    except OverflowError:
        raise InvalidInputError("<body>", f"the integer {text[:20]}... ({len(text)} digits) is "
                                          "beyond float64's range") from None
    return value


def parse_json(body: bytes, max_depth: int) -> Any:
    """`body` as JSON within `max_depth`; `InvalidInputError` (HTTP 422) otherwise."""
    depth = nesting_depth(body)
    if depth > max_depth:
        raise InvalidInputError("<body>", f"nested {depth} levels deep; this server reads at most "
                                          f"{max_depth}")
    try:
        return json.loads(body, parse_constant=_parse_constant, parse_float=_parse_float,
                          parse_int=_parse_int)
    except (ValueError, RecursionError) as e:
        if isinstance(e, InvalidInputError):
            raise
        raise InvalidInputError("<body>", f"not valid JSON ({type(e).__name__}: "
                                          f"{str(e)[:200]})") from e


async def read_json(request: Request, limits: BodyLimits) -> Any:
    """The body parsed as JSON within `limits` (big bodies parsed in a thread)."""
    body = await read_body(request, limits.max_bytes)
    if len(body) > PARSE_IN_THREAD:
        return await asyncio.to_thread(parse_json, body, limits.max_depth)
    return parse_json(body, limits.max_depth)


__all__ = ["BodyLimits", "RequestTooLargeError", "nesting_depth", "parse_json", "read_body",
           "read_json"]
