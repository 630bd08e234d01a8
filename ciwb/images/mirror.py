"""Which Debian mirror to debootstrap from: the one this machine's apt already uses.

On hosts that reach no image registry, the apt mirror is often the only package source that
works, so it is read from apt's own configuration (one-line `.list` files and deb822
`.sources` files) rather than assumed.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_DIR = Path("/etc/apt")


def _deb_sources(apt_dir: Path) -> list[tuple[str, list[str]]]:
    """(uri, suites) for every enabled `deb` source, in apt's reading order."""
    found: list[tuple[str, list[str]]] = []
    files = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            found += _parse_deb822(text)
        else:
            found += _parse_one_line(text)
    return found


def _parse_one_line(text: str) -> list[tuple[str, list[str]]]:
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        words = line.split()[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            out.append((words[0], [words[1]]))
    return out


def _parse_deb822(text: str) -> list[tuple[str, list[str]]]:
    out = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw or raw.startswith((" ", "\t")):
                continue
            name, value = raw.split(":", 1)
            fields[name.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        out += [(uri, suites) for uri in fields.get("uris", "").split()]
    return out


def debian_mirror(suite: str = "bookworm", apt_dir: Path = APT_DIR) -> str:
    """The mirror URI to use for `suite`: $CIWB_DEBIAN_MIRROR, else apt's, else deb.debian.org.

    Security and third-party repositories are skipped: debootstrap needs the main archive.
    """
    override = os.environ.get("CIWB_DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    candidates = [
        (uri.rstrip("/"), suites)
        for uri, suites in _deb_sources(apt_dir)
        if "security" not in uri and uri.startswith(("http://", "https://", "file:/"))
    ]
    for uri, suites in candidates:
        if suite in suites:
            return uri
    for uri, _ in candidates:
        if uri.endswith("/debian"):
            return uri
    return DEFAULT_MIRROR
