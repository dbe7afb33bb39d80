"""Reading a log file as lines, in bounded memory, whatever bytes it holds.

Logs are read in blocks and split in C; a block is cut at its last newline before decoding so a
multi-byte character is never split. Invalid UTF-8 becomes U+FFFD rather than an error, NUL
bytes and carriage returns are dropped, and a line longer than MAX_LINE (a binary blob, a
runaway message) is cut, with the rest of it skipped: one bad line must not hold the file.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

from tools.errors import InputError

BLOCK = 1 << 20
MAX_LINE = 1 << 20


def open_log(path: str | Path) -> BinaryIO:
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"{path} is a directory, not a log file")
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"no such log file: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if handle.read(2) == b"\x1f\x8b":  # rotated logs are often gzipped
        handle.seek(0)
        return gzip.open(handle)  # type: ignore[return-value]
    handle.seek(0)
    return handle


def iter_lines(handle: BinaryIO, *, keep_ends: bool = False, limit: int | None = None) -> Iterator[str]:
    """Every line of the stream, decoded, without its line ending unless keep_ends; with a
    limit, only the lines that start within that many bytes (a part of a file read in parallel)."""
    if limit is not None:
        handle = _Bounded(handle, limit)
    leftover = b""
    skipping = False  # inside an over-long line whose head was already yielded
    # read1 hands over what a gzip stream has decoded so far, so a cut file loses little.
    read = handle.read1 if isinstance(handle, gzip.GzipFile) else handle.read
    while True:
        try:
            block = read(BLOCK)
        except (OSError, EOFError, zlib.error) as exc:
            if not isinstance(handle, gzip.GzipFile):
                raise InputError(f"cannot read the log: {exc}") from None
            block = b""  # a rotated log cut mid-write: what was read so far still counts
        if not block:
            break
        cut = block.rfind(b"\n")
        if cut < 0:
            leftover += block
            if len(leftover) > MAX_LINE:
                if not skipping:
                    yield _decode(leftover[:MAX_LINE])
                skipping, leftover = True, b""
            continue
        head, rest = block[:cut + 1], block[cut + 1:]
        if skipping:
            first = head.find(b"\n")
            head = head[first + 1:]
            skipping, leftover = False, b""
        elif leftover:
            head = leftover + head
            leftover = b""
        text = _decode(head)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        parts = text.split("\n")
        parts.pop()  # head ends in a newline: the last part is empty
        if keep_ends:
            for part in parts:
                yield part + "\n"
        else:
            yield from parts
        leftover = rest
    if leftover and not skipping:
        yield _decode(leftover[:MAX_LINE])


def _decode(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text.replace("\x00", "") if "\x00" in text else text


class _Bounded:
    """Reads at most `limit` bytes, then finishes the line it is in: parts split at line starts."""

    def __init__(self, handle: BinaryIO, limit: int) -> None:
        self.handle, self.left, self.done, self.at_line_start = handle, limit, False, True

    def read(self, size: int) -> bytes:
        if self.done:
            return b""
        if self.left > 0:
            block = self.handle.read(min(size, self.left))
            self.left -= len(block)
            if block:
                self.at_line_start = block.endswith(b"\n")
                return block
        self.done = True
        # The rest of the line the limit fell in; at a line start, the next part begins there.
        return b"" if self.at_line_start else self.handle.readline()
