"""Editing ``params.yaml`` in place: change some values, keep every comment, key order and other section.

``params.yaml`` is the project's documentation as much as its config, so a command that writes it
(``gitops-ml init-data``) must leave the rest of the file as the team wrote it. ruamel.yaml's round-trip mode
keeps comments and layout; this module adds the two things it leaves to its caller: a comment that follows a
replaced block (the blank line and comments before the next section) moves to the new block, and a string that
another YAML reader would take for something else (``yes`` is a boolean to PyYAML, ``012`` a number) is quoted.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

# Where ruamel keeps the comment that follows an entry: slot 2 of a mapping key's list, slot 0 of a list item's.
_MAP_SLOT, _SEQ_SLOT = 2, 0


def _yaml() -> YAML:
    rt = YAML(typ="rt")
    rt.width = 120
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.preserve_quotes = True
    rt.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )  # ruamel writes None as nothing at all; the file says `null`
    rt.representer.add_representer(float, _represent_float)
    return rt


def _represent_float(representer: Any, value: float) -> Any:
    """A new float as Python spells it, with a ``.0`` where YAML 1.1 (PyYAML) needs one: ``1.0e-05``, not ``1e-05``."""
    if not math.isfinite(value):
        return representer.represent_float(value)
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


def load(text: str) -> CommentedMap:
    """Parse ``params.yaml`` text for round-trip editing."""
    doc = _yaml().load(text)
    if not isinstance(doc, CommentedMap):
        raise ValueError("params.yaml: expected a mapping of sections at the top level")
    return doc


def dump(doc: CommentedMap) -> str:
    """The text of an edited document, with its comments and layout."""
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def _reads_back(text: str) -> bool:
    """True when both YAML readers the project uses (PyYAML 1.1 and ruamel/DVC 1.2) read ``text`` as itself."""
    try:
        pyyaml: object = yaml.safe_load(text)
        ruamel: object = YAML(typ="safe", pure=True).load(text)
        return pyyaml == text and ruamel == text
    except Exception:  # not even valid YAML as a plain scalar: quote it
        return False


def scalar(value: Any) -> Any:
    """``value`` ready to write: a string that would read back as something else is double-quoted."""
    if isinstance(value, str) and not _reads_back(value):
        return DoubleQuotedScalarString(value)
    return value


def node(value: Any, flow: bool = False) -> Any:
    """Plain Python data as round-trip nodes (strings quoted where needed); ``flow`` writes lists on one line."""
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[scalar(key)] = node(item, flow)
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        seq = CommentedSeq(node(item, flow) for item in value)
        if flow:
            seq.fa.set_flow_style()
        return seq
    return scalar(value)


def _is_block(value: Any) -> bool:
    """A non-empty mapping or list written as an indented block (what a following comment hangs inside of)."""
    return isinstance(value, CommentedMap | CommentedSeq) and bool(value) and not value.fa.flow_style()


def _last_entry(block: Any) -> tuple[Any, Any, int]:
    """The innermost last (container, key, comment slot) of a block: where the comment after the block hangs."""
    while True:
        if isinstance(block, CommentedMap):
            key, slot = next(reversed(block)), _MAP_SLOT
        else:
            key, slot = len(block) - 1, _SEQ_SLOT
        if not _is_block(block[key]):
            return block, key, slot
        block = block[key]


def _after_line(container: Any, key: Any, slot: int) -> str:
    """Detach and return the lines after an entry's own line (blank lines, comments before the next key).

    ruamel stores them in one token with the entry's end-of-line comment: ``"  # eol\\n\\n# next\\n"``, or
    ``"\\n\\n# next\\n"`` when the line has no comment. The end-of-line part stays where it is.
    """
    items = container.ca.items.get(key)
    token = items[slot] if items else None
    if token is None or "\n" not in token.value:
        return ""
    text: str = token.value
    own, following = text.split("\n", 1)
    if own.strip():
        token.value = own + "\n"
    else:
        items[slot] = None
    return following


def _attach_after(container: Any, key: Any, slot: int, following: str) -> None:
    items = container.ca.items.setdefault(key, [None, None, None, None])
    if items[slot] is None:
        items[slot] = CommentToken("\n" + following, CommentMark(0), None)
    else:
        items[slot].value = items[slot].value.rstrip("\n") + "\n" + following


def set_value(
    parent: CommentedMap,
    key: str,
    value: Any,
    *,
    comment: str | None = None,
    column: int | None = None,
    after: str | None = None,
) -> None:
    """Set ``parent[key]`` to ``value`` (plain data or a :func:`node`), keeping the lines that followed the old value.

    An existing key keeps its own end-of-line comment. A new key goes right after ``after`` (``""``: first; None:
    last), with ``comment`` as its end-of-line comment (its ``#`` at ``column``, 0-based) and, for a block inserted
    before other keys, a blank line after it. Set a block whole: what followed the old block (blank lines, the
    comments before the next key) is attached to the new block's last line.
    """
    if not isinstance(value, CommentedMap | CommentedSeq):
        value = node(value)
    if key not in parent:
        keys = list(parent)
        position = 0 if after == "" else keys.index(after) + 1 if after in parent else len(keys)
        parent.insert(position, scalar(key), value)
        if comment is not None:
            parent.yaml_add_eol_comment(comment, key, column=column)
        if _is_block(value) and position < len(keys):
            container, last, slot = _last_entry(value)
            _attach_after(container, last, slot, "\n")
        return
    old = parent[key]
    following = _after_line(*(_last_entry(old) if _is_block(old) else (parent, key, _MAP_SLOT)))
    parent[key] = value
    if following:
        container, last, slot = _last_entry(value) if _is_block(value) else (parent, key, _MAP_SLOT)
        _attach_after(container, last, slot, following)


def remove(parent: CommentedMap, key: str) -> None:
    """Delete ``parent[key]`` (if present), keeping the lines that followed it: they move to the entry before it.

    Those lines are usually the blank line and the comments that introduce the next key or section, which ruamel
    stores with the deleted entry's last line.
    """
    if key not in parent:
        return
    old = parent[key]
    following = _after_line(*(_last_entry(old) if _is_block(old) else (parent, key, _MAP_SLOT)))
    keys = list(parent)
    del parent[key]
    if not following or not parent:
        return
    index = keys.index(key)
    neighbour = keys[index - 1] if index > 0 else next(reversed(parent))
    value = parent[neighbour]
    container, last, slot = _last_entry(value) if _is_block(value) else (parent, neighbour, _MAP_SLOT)
    _attach_after(container, last, slot, following)


def set_comment(parent: CommentedMap, key: str, comment: str, *, column: int | None = None) -> None:
    """Replace the end-of-line comment of ``parent[key]`` (a scalar), keeping the lines that follow it.

    For a comment that states a fact the new value changed (the template says ``# the binary label`` next to
    ``target:``, which is wrong once the target is a number).
    """
    if isinstance(parent[key], CommentedMap | CommentedSeq) and _is_block(parent[key]):
        raise ValueError(f"set_comment: '{key}' holds a block; its end-of-line comment is not on its own line")
    following = _after_line(parent, key, _MAP_SLOT)
    items = parent.ca.items.get(key)
    if items:
        items[_MAP_SLOT] = None
    parent.yaml_add_eol_comment(comment, key, column=column)
    if following:
        _attach_after(parent, key, _MAP_SLOT, following)
