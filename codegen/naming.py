"""XSD names -> Python names, in one place (DESIGN.md "Names", xnatpy-compatible).

- Classes: PascalCase of the type name; types outside the ``xnat`` namespace keep their prefix
  (``cat:catalog`` -> ``CatCatalog``). Inline types append their element path
  (``ProjectDataAliasesAlias``).
- Fields: snake_case of the XSD name (``secondary_ID`` -> ``secondary_id``). A name that is a
  Python keyword, a builtin used in annotations, or an attribute the base classes already define
  (``uri``, ``fetch``, ``custom_fields``, navigation such as ``scans``) gets a trailing ``_``;
  its XSD name stays the alias, so the data round-trips unchanged.
"""

from __future__ import annotations

import keyword
import re

#: Namespace URI -> the prefix XNAT uses for it (the module name of the generated code).
KNOWN_PREFIXES: dict[str, str] = {
    "http://nrg.wustl.edu/xnat": "xnat",
    "http://nrg.wustl.edu/security": "xdat",
    "http://nrg.wustl.edu/catalog": "cat",
    "http://www.nbirn.net/prov": "prov",
    "http://nrg.wustl.edu/workflow": "wrk",
    "http://nrg.wustl.edu/arc": "arc",
    "http://nrg.wustl.edu/pipe": "pipe",
    "http://nrg.wustl.edu/build": "build",
    "http://nrg.wustl.edu/scr": "scr",
    "http://nrg.wustl.edu/val": "val",
    "http://nrg.wustl.edu/xnat_assessments": "xnat_a",
    "http://nrg.wustl.edu/display": "display",
    "http://icr.ac.uk/icr": "icr",
}

#: Attribute names of ``XnatModel`` / ``XnatObject`` / pydantic ``BaseModel`` that a field must
#: not shadow, plus builtins that generated annotations use. ``tests/unit/test_codegen_naming``
#: checks this list against the real base classes.
RESERVED_FIELD_NAMES: frozenset[str] = frozenset(
    {
        "all_xsd_fields",
        "bool",
        "c",
        "clearcache",
        "construct",
        "copy",
        "custom_fields",
        "delete",
        "dict",
        "external_uri",
        "fetch",
        "float",
        "from_json_item",
        "from_orm",
        "from_xml",
        "fulldata",
        "fulluri",
        "int",
        "json",
        "list",
        "mset",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "secondary_lookup_field",
        "set",
        "str",
        "to_json_item",
        "to_xml",
        "to_xpath_fields",
        "update_forward_refs",
        "uri",
        "validate",
        "with_xpath_fields",
        "xml_element",
        "xpath_of",
        "xsd_abstract",
        "xsd_elements",
        "xsd_field",
        "xsd_inline",
        "xsd_key",
        "xsd_fields",
        "xsd_namespace",
        "xsi_type",
    }
)

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+|\d+")


_SECRET = re.compile(r"password|passwd|secret|salt|token", re.IGNORECASE)


def is_secret(xsd_name: str) -> bool:
    """Whether a value called ``xsd_name`` is a credential, kept out of reprs."""
    return _SECRET.search(xsd_name) is not None


def pascal_case(name: str) -> str:
    """``mrSessionData`` -> ``MrSessionData``, ``data-type`` -> ``DataType``."""
    parts = [part for part in re.split(r"[^0-9A-Za-z]+", name) if part]
    return "".join(part[0].upper() + part[1:] for part in parts)


def class_name(prefix: str, local_name: str) -> str:
    """The class of a named type: ``xnat:mrSessionData`` -> ``MrSessionData``."""
    base = pascal_case(local_name)
    if prefix == "xnat":
        return base
    return pascal_case(prefix) + base


def inline_class_name(owner_class: str, path: tuple[str, ...]) -> str:
    """The class of an anonymous type: ``ProjectData`` + (aliases, alias)."""
    return owner_class + "".join(pascal_case(step) for step in path)


def snake_case(name: str) -> str:
    """``secondary_ID`` -> ``secondary_id``, ``studyProtocol`` -> ``study_protocol``."""
    words: list[str] = []
    for chunk in re.split(r"[^0-9A-Za-z]+", name):
        words.extend(word.lower() for word in _WORD.findall(chunk))
    result = "_".join(words)
    if not result:
        raise ValueError(f"XSD name {name!r} has no letters or digits to name a field after")
    if result[0].isdigit():
        result = "n_" + result
    return result


def field_name(xsd_name: str, reserved: frozenset[str] = frozenset()) -> str:
    """The Python field of an XSD attribute or element; clashes get a trailing ``_``."""
    name = snake_case(xsd_name)
    if keyword.iskeyword(name) or name in RESERVED_FIELD_NAMES or name in reserved:
        name += "_"
    return name


def xsi_type(prefix: str, local_name: str) -> str:
    """``xnat:mrSessionData``."""
    return f"{prefix}:{local_name}"


def inline_xsi_type(prefix: str, owner_local: str, path: tuple[str, ...]) -> str:
    """The XFT-style name of an inline type: ``xnat:projectData_alias`` (wrappers dropped)."""
    return f"{prefix}:{owner_local}_" + "_".join(path)
