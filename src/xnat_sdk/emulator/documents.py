"""Single-object documents: the JSON ``items`` form and XML, out of and into the archive.

The JSON form is XNAT's ``{"items": [{"data_fields", "meta", "children"}]}``: simple fields
flattened with ``/`` (``scanner/manufacturer``), nested lists (scans, resources, custom fields,
shares) as ``children``. XML documents follow the schema: attributes and elements where the
XSD declares them (from ``TypeIndex``), child objects nested with their ``xsi:type``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from xnat_sdk.emulator.archive import ArchiveStore, Node
from xnat_sdk.emulator.errors import bad_request
from xnat_sdk.emulator.typeindex import TypeIndex
from xnat_sdk.models import parse_json_item

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI}}}type"
CUSTOM_FIELD = re.compile(r"fields/field\[name=([^\]]+)\]/field")

# where each kind of child object sits inside its parent's document
CHILD_PATHS = {
    "experiment": ("experiments/experiment",),
    "scan": ("scans/scan",),
    "assessor": ("assessors/assessor",),
    "reconstruction": ("reconstructions/reconstructedImage",),
    "resource": ("resources/resource", "file", "out/file"),
}
CHILD_KINDS = {
    "project": ("resource",),
    "subject": ("experiment", "resource"),
    "experiment": ("scan", "reconstruction", "assessor", "resource"),
    "assessor": ("resource",),
    "reconstruction": ("resource",),
    "scan": ("resource",),
    "resource": (),
}


def identity_fields(store: ArchiveStore, node: Node) -> dict[str, str]:
    """The identifying fields each kind carries besides its stored ones."""
    parent = store.parent(node)
    parent_id = parent.id if parent is not None else ""
    if node.kind == "project":
        return {"ID": node.id}
    if node.kind == "subject":
        return {"ID": node.id, "project": node.project, "label": node.label}
    if node.kind == "experiment":
        return {
            "ID": node.id,
            "project": node.project,
            "label": node.label,
            "subject_ID": parent_id,
        }
    if node.kind == "assessor":
        return {
            "ID": node.id,
            "project": node.project,
            "label": node.label,
            "imageSession_ID": parent_id,
        }
    if node.kind in ("scan", "reconstruction"):
        return {"ID": node.id, "image_session_ID": parent_id}
    files = store.files(node)
    return {
        "xnat_abstractresource_id": node.id,
        "label": node.label,
        "file_count": str(len(files)),
        "file_size": str(sum(entry.size for entry in files)),
    }


def _predicate_type(predicate: str) -> str | None:
    """``T`` from a path step's ``[@xsi:type=T]`` predicate (given without the ``[``)."""
    match = re.fullmatch(r"@xsi:type=([^\]]+)\]", predicate)
    return match.group(1) if match else None


def child_path(types: TypeIndex, parent_type: str, kind: str) -> str:
    lists = types.child_lists(parent_type)
    for path in CHILD_PATHS[kind]:
        if path in lists or not lists:
            return path
    return CHILD_PATHS[kind][0]


def json_item(store: ArchiveStore, node: Node) -> dict[str, object]:
    """One element of ``{"items": [...]}`` for ``node`` with its children."""
    data_fields: dict[str, object] = dict(identity_fields(store, node))
    customs: list[dict[str, object]] = []
    nested_types = store.types.nested_objects(node.xsi_type)
    nested: dict[str, tuple[str, dict[str, object]]] = {}
    for path, value in node.fields.items():
        match = CUSTOM_FIELD.fullmatch(path)
        head, sep, rest = path.partition("/")
        name, _, predicate = head.partition("[")
        if sep and name in nested_types:  # a typed nested object (PI, demographics): a child
            declared = _predicate_type(predicate) or nested_types[name]
            nested.setdefault(name, (declared, {}))[1][rest] = value
        elif match:
            customs.append(
                {
                    "children": [],
                    "meta": {"xsi:type": f"{node.xsi_type}_field", "isHistory": False},
                    "data_fields": {"name": match.group(1), "field": value},
                }
            )
        else:
            data_fields[path] = value
    children: list[dict[str, object]] = [
        {
            "field": name,
            "items": [
                {
                    "children": [],
                    "meta": {"xsi:type": nested_type, "isHistory": False},
                    "data_fields": values,
                }
            ],
        }
        for name, (nested_type, values) in nested.items()
    ]
    if customs:
        children.append({"field": "fields/field", "items": customs})
    shares = store.shares(node)
    if shares:
        children.append(
            {
                "field": "sharing/share",
                "items": [
                    {
                        "children": [],
                        "meta": {"xsi:type": "xnat:projectParticipant", "isHistory": False},
                        "data_fields": {"project": project, "label": label},
                    }
                    for project, label in shares
                ],
            }
        )
    for kind in CHILD_KINDS[node.kind]:
        items = [json_item(store, child) for child in store.children(node, (kind,))]
        if items:
            children.append({"field": child_path(store.types, node.xsi_type, kind), "items": items})
    return {
        "children": children,
        "meta": {
            "create_event_id": node.pk,
            "xsi:type": node.xsi_type,
            "isHistory": False,
            "start_date": node.insert_date,
        },
        "data_fields": data_fields,
    }


# ------------------------------------------------------------------------------- XML out --
def xml_document(store: ArchiveStore, node: Node) -> str:
    """The XML document of ``node`` (as ``GET ...?format=xml`` answers).

    Written from the served schemas; an emulator started without schemas lets the generated
    model write it instead.
    """
    if not store.types.types:
        return parse_json_item(json_item(store, node)).to_xml()
    root = _xml_element(store, node, None)
    prefixes = {"xsi": XSI, **store.types.namespaces}
    for prefix, uri in prefixes.items():
        ET.register_namespace(prefix, uri)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _qname(types: TypeIndex, prefixed: str) -> str:
    prefix, _, local = prefixed.partition(":")
    uri = types.namespaces.get(prefix)
    return f"{{{uri}}}{local}" if uri else local


def _xml_element(store: ArchiveStore, node: Node, as_child: str | None) -> ET.Element:
    types = store.types
    prefix = node.xsi_type.split(":")[0]
    own_element = types.type_element.get(node.xsi_type)
    if as_child is None:
        element = ET.Element(_qname(types, own_element or node.xsi_type))
    else:
        element = ET.Element(_qname(types, f"xnat:{as_child.rsplit('/', 1)[-1]}"))
    if as_child is not None or own_element is None:  # a root element names its own type
        element.set(XSI_TYPE, node.xsi_type)
    values = {**identity_fields(store, node), **node.fields}
    leaves = types.leaves(node.xsi_type)
    by_path: dict[str, ET.Element] = {"": element}
    ordered = [path for path in leaves if path in values]
    ordered += [path for path in values if path not in leaves]
    for path in ordered:
        value = values[path]
        match = CUSTOM_FIELD.fullmatch(path)
        if match:
            holder = _ensure(by_path, "fields", types, prefix)
            custom = ET.SubElement(holder, _qname(types, f"{prefix}:field"))
            custom.set("name", match.group(1))
            custom.text = value
            continue
        leaf = leaves.get(path)
        steps = re.sub(r"\[[^\]]*\]", "", path).split("/")
        typed = _predicate_type(path.partition("/")[0].partition("[")[2])
        if typed is not None and len(steps) > 1:  # <xnat:demographics xsi:type="...">
            _ensure(by_path, steps[0], types, prefix).set(XSI_TYPE, typed)
        if leaf is not None and leaf.is_attribute:
            parent = _ensure(by_path, "/".join(steps[:-1]), types, prefix)
            parent.set(steps[-1], value)
        else:
            _ensure(by_path, "/".join(steps), types, prefix).text = value
    for kind in CHILD_KINDS[node.kind]:
        path = child_path(types, node.xsi_type, kind)
        for child in store.children(node, (kind,)):
            holder = (
                _ensure(by_path, path.rsplit("/", 1)[0], types, prefix) if "/" in path else element
            )
            holder.append(_xml_element(store, child, path))
    shares = store.shares(node)
    if shares:
        holder = _ensure(by_path, "sharing", types, prefix)
        for project, label in shares:
            share = ET.SubElement(holder, _qname(types, f"{prefix}:share"))
            share.set("label", label)
            share.set("project", project)
    return element


def _ensure(by_path: dict[str, ET.Element], path: str, types: TypeIndex, prefix: str) -> ET.Element:
    if path in by_path:
        return by_path[path]
    parent_path, _, name = path.rpartition("/")
    parent = _ensure(by_path, parent_path, types, prefix)
    element = ET.SubElement(parent, _qname(types, f"{prefix}:{name}"))
    by_path[path] = element
    return element


# -------------------------------------------------------------------------------- XML in --
@dataclass
class ParsedObject:
    """An object read from an XML body: its type, simple fields and nested child objects."""

    xsi_type: str
    fields: dict[str, str]
    # (kind, object) of each nested child object (scans, resources, ...)
    children: list[tuple[str, ParsedObject]] = field(
        default_factory=list[tuple[str, "ParsedObject"]]
    )


def parse_document(types: TypeIndex, body: bytes) -> ParsedObject:
    """Read an XML document (``<xnat:MRSession ...>``); 400 when it is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise bad_request(f"Invalid XML document: {exc}") from exc
    xsi_type = root.get(XSI_TYPE) or _element_type(types, root.tag)
    if xsi_type is None:
        raise bad_request(f"Unknown root element {root.tag}")
    return _parse(types, root, xsi_type)


def _prefixed(types: TypeIndex, tag: str) -> str:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        prefix = next((p for p, u in types.namespaces.items() if u == uri), "")
        return f"{prefix}:{local}" if prefix else local
    return tag


def _element_type(types: TypeIndex, tag: str) -> str | None:
    return types.elements.get(_prefixed(types, tag))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(types: TypeIndex, element: ET.Element, xsi_type: str) -> ParsedObject:
    parsed = ParsedObject(xsi_type, {})
    lists = types.child_lists(xsi_type)
    kinds = {path: kind for kind, paths in CHILD_PATHS.items() for path in paths}
    _flatten(types, element, "", parsed, lists, kinds)
    return parsed


def _flatten(
    types: TypeIndex,
    element: ET.Element,
    prefix: str,
    parsed: ParsedObject,
    lists: dict[str, str],
    kinds: dict[str, str],
) -> None:
    for name, value in element.attrib.items():
        if name.startswith("{"):
            continue  # xsi:type, schemaLocation
        parsed.fields[prefix + name] = value
    for child in element:
        path = prefix + _local(child.tag)
        if path == "fields/field" and child.get("name"):
            parsed.fields[f"fields/field[name={child.get('name')}]/field"] = child.text or ""
            continue
        if path in lists:
            kind = kinds.get(path)
            if kind is not None:
                child_type = child.get(XSI_TYPE) or lists[path]
                parsed.children.append((kind, _parse(types, child, child_type)))
            continue  # other nested lists (addParam, provenance) are not stored
        if path == "sharing" or path == "sharing/share":
            continue
        if len(child):
            typed = child.get(XSI_TYPE)  # a typed nested object keeps its type in the path
            step = f"{path}[@xsi:type={typed}]/" if typed else path + "/"
            _flatten(types, child, step, parsed, lists, kinds)
        else:
            for name, value in child.attrib.items():
                if not name.startswith("{"):
                    parsed.fields[f"{path}/{name}"] = value
            if child.text is not None and child.text.strip():
                parsed.fields[path] = child.text.strip()
