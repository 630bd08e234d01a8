"""botocore's response parsing, the same answers for less CPU.

A collect spends most of its own CPU turning JSON answers into Python (a BatchGetBuilds of 100
builds is ~2,500 timestamps and ~10,000 fields). botocore walks the service model generically
for every value: one `getattr` dispatch per field, and each epoch timestamp converted through
dateutil's `tzlocal` in Python (~12 µs each). With many walks sharing one interpreter, that
walk is what the GIL serialises, so it bounds a concurrent collect (docs/scheduling.md).

`ResponseParsers` hands botocore the same parsers with two changes:

- timestamps: epoch numbers become `datetime`s in UTC (`fromtimestamp(v, UTC)`, the same
  instant botocore gives in local time; the collector stores UTC throughout). Anything else
  (ISO strings, out-of-range values) goes to botocore's own `parse_timestamp`;
- JSON-protocol bodies (CodeBuild, Organizations, CloudWatch Logs): each output shape is
  compiled once into a converter that does what `BaseJSONParser` does (keep the members the
  model names, under their member names; skip nulls; convert timestamps and blobs; lists and
  maps element by element), and the body is read by orjson (json on anything orjson refuses,
  as botocore does). A node whose keys are already what botocore would keep, in its order,
  is converted in place instead of copied member by member. Tagged unions and document
  types go through botocore's own code.

Errors, headers and response metadata are botocore's code path unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore import parsers
from botocore.utils import parse_timestamp as botocore_parse_timestamp

__all__ = ["ResponseParsers", "parse_timestamp"]

Converter = Callable[[Any], Any]


def parse_timestamp(value: Any) -> datetime:
    """An epoch number as an aware UTC datetime; anything else as botocore parses it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OSError, OverflowError, ValueError):
            pass
    return botocore_parse_timestamp(value)


def _key(shape: Any) -> tuple[int, str]:
    """A shape by its name in its model's definitions: every client of a service builds its
    own shape objects, from the one definitions dict the shared loader holds."""
    return id(shape._shape_resolver._shape_map), shape.name


class _Compiler:
    """One converter per shape, built on first use and shared by every parser and thread
    (a shape's definition is never changed after its model is loaded). A member's traits
    (its JSON name) are read by its structure, so a converter depends on the shape alone."""

    def __init__(self) -> None:
        # key → (the definitions dict, kept so its id is not reused; the converter)
        self._converters: dict[tuple[int, str], tuple[Any, Converter | None]] = {}
        self._lock = threading.Lock()
        # botocore's own parser for what is not compiled (tagged unions), same timestamps
        self._generic = parsers.JSONParser(timestamp_parser=parse_timestamp)

    def converter(self, shape: Any) -> Converter | None:
        """The converter for `shape`; None when a value is kept as it is (strings, numbers)."""
        found = self._converters.get(_key(shape))
        if found is not None:
            return found[1]
        with self._lock:
            return self._build(shape, set())

    def _build(self, shape: Any, building: set[tuple[int, str]]) -> Converter | None:
        key = _key(shape)
        found = self._converters.get(key)
        if found is not None:
            return found[1]
        if key in building:  # a recursive shape: look the converter up when called
            return lambda value: self.converter(shape)(value)  # type: ignore[misc]
        building.add(key)
        converter = self._compile(shape, building)
        building.discard(key)
        self._converters[key] = (shape._shape_resolver._shape_map, converter)
        return converter

    def _compile(self, shape: Any, building: set[tuple[int, str]]) -> Converter | None:
        kind = shape.type_name
        if kind == "timestamp":
            return parse_timestamp
        if kind == "blob":
            return self._generic._blob_parser
        if kind == "list":
            item = self._build(shape.member, building)
            if item is None:
                return None  # a list of plain values: botocore's copy is equal to the list

            def convert_list(node: Any) -> Any:
                return [None if v is None else item(v) for v in node]

            convert_list.ciwb_item = item  # type: ignore[attr-defined]  # inlined by _structure
            return convert_list
        if kind == "map":
            key = self._build(shape.key, building)
            value = self._build(shape.value, building)
            if key is None and value is None:
                return None
            k = key or (lambda x: x)
            v = value or (lambda x: x)
            return lambda node: {k(a): v(b) for a, b in node.items()}
        if kind == "structure":
            if shape.is_document_type:
                return None
            if shape.is_tagged_union:
                generic = self._generic
                return lambda node: generic._handle_structure(shape, node)
            members = [
                (name, member.serialization.get("name", name), self._build(member, building))
                for name, member in shape.members.items()
            ]
            return _structure(members)
        return None  # strings, numbers, booleans: botocore's default handler returns them


def _structure(members: list[tuple[str, str, Converter | None]]) -> Converter:
    """A structure's converter as straight-line code, one `get` per member the model names:
    a Build has ~45 members and a BatchGetBuilds page 100 builds of ~11 phases each, so a
    loop over (name, key, converter) tuples cost more than the lookups themselves.

    Timestamps and lists of structures are converted in that code too, not by a call each:
    a BatchGetBuilds page holds ~2,300 timestamps and ~1,100 lists (every phase's contexts),
    and the calls cost as much as the conversions (`parse_timestamp`'s answers unchanged).

    Most answers need less than that: when a node's keys, in the order they came, are
    members the model names in the model's order (what botocore's output would hold, in
    its order) and none is null, the parsed node itself becomes the answer, with only its
    timestamps and nested values converted in place. One `get` per member the model names
    was most of a page's parsing (a Build names ~45; AWS sends ~25); the check is one tuple
    of the node's keys looked up among the key sequences already seen to qualify.
    """
    lines = ["def convert(node):", "    if node is None:", "        return None"]
    scope: dict[str, Any] = {
        "UTC": UTC,
        "fromtimestamp": datetime.fromtimestamp,
        "parse_timestamp": parse_timestamp,
    }
    if all(name == key for name, key, _ in members):  # no member renamed: keys are names
        orders = _KeyOrders({key: i for i, (_, key, _) in enumerate(members)})
        scope["seen"], scope["learn"] = orders.known, orders.learn
        lines.append("    keys = tuple(node)")
        lines.append("    if (keys in seen or learn(keys)) and None not in node.values():")
        for i, (name, _, member) in enumerate(members):
            if member is None:
                continue
            _convert_member(lines, scope, i, name, member, "node", "        ")
        lines.append("        return node")
    lines.append("    out = {}")
    for i, (name, key, member) in enumerate(members):
        lines.append(f"    v = node.get({key!r})")
        lines.append("    if v is not None:")
        if member is None:
            lines.append(f"        out[{name!r}] = v")
        else:
            _convert_member(lines, scope, i, name, member, "out", "        ", fetched=True)
    lines.append("    return out")
    exec("\n".join(lines), scope)  # noqa: S102 - our own code, from the service model's names
    return scope["convert"]  # type: ignore[no-any-return]


def _convert_member(
    lines: list[str],
    scope: dict[str, Any],
    i: int,
    name: str,
    member: Converter,
    target: str,
    indent: str,
    *,
    fetched: bool = False,
) -> None:
    """Code that sets `target[name]` to the converted member, from `v` when `fetched`
    (already read and not None) or else read from `node` (absent or None: left alone)."""
    if not fetched:
        lines.append(f"{indent}v = node.get({name!r})")
        lines.append(f"{indent}if v is not None:")
        indent += "    "
    item = getattr(member, "ciwb_item", None)
    if member is parse_timestamp:
        # parse_timestamp's own first branch, for the exact types a JSON parser returns
        lines.append(f"{indent}cls = v.__class__")
        lines.append(f"{indent}if cls is int or cls is float:")
        lines.append(f"{indent}    try:")
        lines.append(f"{indent}        v = fromtimestamp(v, UTC)")
        lines.append(f"{indent}    except (OSError, OverflowError, ValueError):")
        lines.append(f"{indent}        v = parse_timestamp(v)")
        lines.append(f"{indent}else:")
        lines.append(f"{indent}    v = parse_timestamp(v)")
        lines.append(f"{indent}{target}[{name!r}] = v")
    elif item is not None:
        scope[f"c{i}"] = item
        lines.append(f"{indent}{target}[{name!r}] = [None if x is None else c{i}(x) for x in v]")
    else:
        scope[f"c{i}"] = member
        lines.append(f"{indent}{target}[{name!r}] = c{i}(v)")


class _KeyOrders:
    """The key sequences of one structure known to be members the model names, in the
    model's order (`known`), and the check of a sequence not seen yet (`learn`). A
    structure's answers come in a few sequences (a build with or without its end)."""

    _LIMIT = 256  # past it, an odd sequence takes the member-by-member path, still right

    def __init__(self, order: dict[str, int]) -> None:
        self._order = order
        self.known: set[tuple[str, ...]] = set()  # one set.add at a time: the GIL's

    def learn(self, keys: tuple[str, ...]) -> bool:
        positions = [self._order.get(k, -1) for k in keys]
        fits = -1 not in positions and all(
            a < b for a, b in zip(positions, positions[1:], strict=False)
        )
        if fits and len(self.known) < self._LIMIT:
            self.known.add(keys)
        return fits


_COMPILER = _Compiler()


class _CompiledJSONParser(parsers.JSONParser):
    """botocore's JSON-protocol parser with the body converted by compiled shapes."""

    def _handle_json_body(self, raw_body: bytes, shape: Any) -> Any:
        parsed_json = self._parse_body_as_json(raw_body)
        converter = _COMPILER.converter(shape)
        return parsed_json if converter is None else converter(parsed_json)

    def _parse_body_as_json(self, body_contents: bytes) -> Any:
        if not body_contents:
            return {}
        try:
            return orjson.loads(body_contents)
        except orjson.JSONDecodeError:  # what orjson refuses (NaN, huge ints): as botocore
            return super()._parse_body_as_json(body_contents)


class ResponseParsers(parsers.ResponseParserFactory):
    """botocore's `response_parser_factory` component: the parsers above, for a session."""

    def __init__(self) -> None:
        super().__init__()
        self.set_parser_defaults(timestamp_parser=parse_timestamp)

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "json":
            return _CompiledJSONParser(**self._defaults)
        return super().create_parser(protocol_name)
