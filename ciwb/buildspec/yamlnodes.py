"""YAML → a tree of positioned nodes whose scalars stay exactly as written.

A plain YAML load turns `python: 3.10` into 3.1 and `discard-paths: yes` into True
(docs/reference/buildspec-semantics.md, "Loading"). We stop at ruamel's *compose* step, which
gives nodes with their source text and start marks, and keep every scalar as a string.
Typing happens per key in `ciwb.buildspec`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from ciwb.errors import YamlLoadError

__all__ = ["YMap", "YNode", "YScalar", "YSeq", "compose_text"]

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


@dataclass
class YNode:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class YScalar(YNode):
    value: str
    plain: bool  # unquoted and not a block scalar: only then can it mean null

    @property
    def is_null(self) -> bool:
        return self.plain and self.value in _NULLS


@dataclass
class YSeq(YNode):
    items: list[YNode] = field(default_factory=list)


@dataclass
class YMap(YNode):
    # key text → (key node, value node); insertion order kept
    entries: dict[str, tuple[YScalar, YNode]] = field(default_factory=dict)

    def get(self, key: str) -> YNode | None:
        entry = self.entries.get(key)
        return entry[1] if entry else None


def _convert(node: Node, seen: dict[int, YNode]) -> YNode:
    if id(node) in seen:  # an alias: the same node again
        return seen[id(node)]
    line, col = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, ScalarNode):
        value = str(node.value)
        if node.style == ">":  # ruamel's round-trip composer marks fold points with BEL
            value = value.replace("\a", "")
        out: YNode = YScalar(line, col, value, plain=node.style in (None, ""))
    elif isinstance(node, SequenceNode):
        out = YSeq(line, col)
        seen[id(node)] = out
        out.items = [_convert(item, seen) for item in node.value]
    elif isinstance(node, MappingNode):
        out = YMap(line, col)
        seen[id(node)] = out
        merges: list[YNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (
                isinstance(key_node, ScalarNode) and key_node.value == "<<" and not key_node.style
            ):
                merges.append(_convert(value_node, seen))
                continue
            key = _convert(key_node, seen)
            if not isinstance(key, YScalar):
                raise YamlLoadError(key.line, key.col, "a mapping key must be a plain string")
            out.entries[key.value] = (key, _convert(value_node, seen))
        for merged in merges:  # `<<: *anchor`: explicit keys win
            sources = merged.items if isinstance(merged, YSeq) else [merged]
            for source in sources:
                if isinstance(source, YMap):
                    for k, v in source.entries.items():
                        out.entries.setdefault(k, v)
    else:  # pragma: no cover - ruamel has no other node kinds
        raise YamlLoadError(line, col, f"unsupported YAML node {type(node).__name__}")
    seen[id(node)] = out
    return out


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset, counting lines as YAML does."""
    head = text[: max(offset, 0)].replace("\r\n", "\n")
    for brk in ("\r", "\x85", "\u2028", "\u2029"):
        head = head.replace(brk, "\n")
    return head.count("\n") + 1, len(head) - (head.rfind("\n") + 1) + 1


def compose_text(text: str) -> YNode | None:
    """Parse one YAML document into positioned nodes; `None` for an empty document."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True  # CodeBuild takes the last; we warn in the model
    try:
        with warnings.catch_warnings():
            # An anchor defined twice is valid YAML (an alias takes the latest); ruamel's
            # warning would print a multi-line report outside any file:line:col message.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "\\t" in problem or "\t" in problem:
            problem = "tab character in indentation (YAML allows spaces only)"
        if problem.startswith("mapping values are not allowed"):
            problem += " (a key above may lack its ':', or a value with ': ' needs quotes)"
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlLoadError(line, col, problem) from None
    except ReaderError as exc:
        # A character YAML forbids (NUL, most C0 controls): ruamel gives only its offset.
        line, col = _line_col(text, exc.position)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise YamlLoadError(
            line, col, f"character U+{ord(char):04X} is not allowed in YAML (a binary file?)"
        ) from None
    except YAMLError as exc:
        raise YamlLoadError(1, 1, str(exc).splitlines()[0]) from None
    if node is None:
        return None
    return _convert(node, {})
