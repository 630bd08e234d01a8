"""A cache archive's member list as GNU tar itself reads it: `tar -tv` lines parsed.

Restores check every member before `tar -x` runs (archive.py). The names checked must be the
names tar will write, so they come from tar's own listing rather than from a second parser
that could read an odd header differently. The listing is asked for in a form that parses
one way only: `LC_ALL=C`, `--numeric-owner` (no spaces in the owner field) and
`--quoting-style=c` (every name in double quotes, with C escapes for quotes, backslashes,
newlines and every non-ASCII byte), so a name holding " -> " or a newline cannot pass for
a link target or a second member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ciwb.errors import ArchiveRefusedError

__all__ = ["LIST_ARGS", "LIST_ENV", "Member", "parse_line", "parse_lines"]

LIST_ARGS = ["-tv", "--numeric-owner", "--quoting-style=c"]
LIST_ENV = {"LC_ALL": "C"}  # untranslated " link to ", octal escapes for non-ASCII bytes

# mode (its first letter is the type), uid/gid, size (or major,minor), date and time (or raw
# seconds when out of range: anything without a quote), then the quoted name and its tail.
_QUOTED = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a C string: no bare quote, escapes in pairs
_LINE = re.compile(rb"(\S)\S* +\S+ +([0-9,]+) [^\"]*" + _QUOTED + rb"(.*)")
_LINK = re.compile(rb"( -> | link to )" + _QUOTED)
# The same, many lines at once: no part may cross a newline, so a match is one whole line,
# and as many matches as newlines means every line was read.
_QUOTED_IN_LINE = rb'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"'
_LINES = re.compile(
    rb"^((\S)\S* +\S+ +([0-9,]+) [^\"\n]*" + _QUOTED_IN_LINE + rb"(.*))$", re.MULTILINE
)
_ESCAPE = re.compile(rb"\\(?:([0-7]{3})|(.))", re.DOTALL)
_SIMPLE = {
    b"a": b"\a",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
    b"\\": b"\\",
    b'"': b'"',
    b"?": b"?",
}
# tar -tv's type letters (GNU tar's list.c); a regular file whose name ends in "/" is listed
# "d" and extracted as a directory, so the letter is the kind tar -x acts on.
_KINDS = {"-": "file", "C": "file", "d": "dir", "l": "symlink", "h": "hardlink"}


@dataclass(slots=True)  # not frozen: tens of thousands are made per restore, and a frozen
class Member:  # dataclass's __init__ costs ten times as much
    name: str  # as stored: a leading "/" or ".." is kept (and refused by the checks)
    kind: str  # "file", "dir", "symlink", "hardlink" or "other" (devices, fifos, unknown)
    linkname: str  # symlink or hard link target, "" otherwise
    size: int  # content bytes of a file, 0 otherwise


def _unescape(raw: bytes) -> str:
    if b"\\" in raw:

        def one(match: re.Match[bytes]) -> bytes:
            octal, char = match.groups()
            if octal is not None and int(octal, 8) < 256:
                return bytes([int(octal, 8)])
            if char not in _SIMPLE:
                raise ArchiveRefusedError(
                    f"cache archive listing has an unknown escape {match[0]!r}; restore refused"
                )
            return _SIMPLE[char]

        raw = _ESCAPE.sub(one, raw)
    return raw.decode("utf-8", "surrogateescape")


def parse_line(line: bytes) -> Member:
    """One `tar -tv` line (without its newline) → a member; a line that does not parse
    refuses the archive (a listing that cannot be read cannot be checked)."""
    match = _LINE.fullmatch(line)
    if match is None:
        shown = line[:200].decode("utf-8", "replace")
        raise ArchiveRefusedError(
            f"cache archive listing line {shown!r} unreadable; restore refused"
        )
    kind = _KINDS.get(match[1].decode(), "other")
    tail = match[4]
    linkname = ""
    if kind == "symlink" or kind == "hardlink":
        link = _LINK.fullmatch(tail)
        arrow = b" -> " if kind == "symlink" else b" link to "
        if link is None or link[1] != arrow:
            raise ArchiveRefusedError(
                f"cache archive listing of link {_unescape(match[3])!r} unreadable; restore refused"
            )
        linkname = _unescape(link[2])
    elif tail and kind != "other":  # "other" members carry notes ("unknown file type") and
        raise ArchiveRefusedError(  # are refused by the checks anyway
            f"cache archive listing of {_unescape(match[3])!r} unreadable; restore refused"
        )
    size = 0
    if kind == "file":
        if not match[2].isdigit():
            raise ArchiveRefusedError(
                f"cache archive listing of {_unescape(match[3])!r} has no size; restore refused"
            )
        size = int(match[2])
    return Member(_unescape(match[3]), kind, linkname, size)


def parse_lines(text: bytes) -> list[Member]:
    """Whole `tar -tv` lines (`text` ends with a newline, or is empty) → members, as
    `parse_line` reads each. Tens of thousands per restore: plain files and directories,
    almost all of them, take a short path."""
    rows = _LINES.findall(text)
    if len(rows) != text.count(b"\n"):
        for line in text.split(b"\n"):  # the first line that does not parse raises
            parse_line(line)
        raise ArchiveRefusedError("cache archive listing unreadable; restore refused")
    members = []
    append = members.append
    for line, letter, size, name, tail in rows:
        if tail or b"\\" in name or b"," in size:
            append(parse_line(line))
        elif letter == b"-":
            append(Member(name.decode("utf-8", "surrogateescape"), "file", "", int(size)))
        elif letter == b"d":
            append(Member(name.decode("utf-8", "surrogateescape"), "dir", "", 0))
        else:
            append(parse_line(line))
    return members
