"""The intermediate model between the schema reader and the renderer.

Plain dataclasses: no XSD and no Python source here, so both sides can be tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Python-side scalar kinds; the renderer maps each to one annotation.
ScalarKind = Literal["str", "int", "float", "bool", "date", "datetime", "time", "json"]
FieldKind = Literal["attribute", "element", "text"]


@dataclass(frozen=True)
class ScalarSpec:
    """A simple XSD value: its Python kind, enumeration and facets."""

    kind: ScalarKind
    xsd_type: str
    enumeration: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    ge: int | float | None = None
    le: int | float | None = None
    gt: int | float | None = None
    lt: int | float | None = None
    #: A Python regular expression the lexical value must match (XSD built-ins only).
    pattern: str | None = None


@dataclass(frozen=True)
class FieldSpec:
    """One attribute, child element or simpleContent value of a complex type."""

    xsd_name: str
    python_name: str
    kind: FieldKind
    scalar: ScalarSpec | None
    #: Key of the complex type of the value (``TypeSpec.key``) when it is not a scalar.
    target: str | None
    many: bool
    optional: bool
    default: str | None
    doc: str
    #: For a wrapper element (``<scans><scan/></scans>``): the name of the repeated child.
    item_name: str | None = None


@dataclass(frozen=True)
class NavigationSpec:
    """A typed listing property (``ProjectData.subjects``) resolved by the session."""

    name: str
    item_class: str  # a class name, or "FileData" for resource files


@dataclass
class TypeSpec:
    """A named or anonymous complex type, rendered as one class."""

    key: str  # "{namespace}localName" for named types, "{namespace}owner/path" for inline ones
    namespace: str
    prefix: str
    class_name: str
    xsi_type: str
    named: bool
    base: str | None  # key of the base TypeSpec
    fields: list[FieldSpec] = field(
        default_factory=list[FieldSpec]
    )  # own fields only, document order
    doc: str = ""
    abstract: bool = False
    elements: list[str] = field(default_factory=list[str])  # global elements ("xnat:MRSession")
    navigation: list[NavigationSpec] = field(default_factory=list[NavigationSpec])
    behaviour: str | None = None  # mixin class of xnat_sdk.behaviour added as a base
    source_file: str = ""


@dataclass(frozen=True)
class ListingSpec:
    """Where a navigation property belongs: owner xsi:type -> (property, item xsi:type)."""

    owner_xsi_type: str
    name: str
    item_xsi_type: str | None  # None: not an XSD type (``FileData``)


@dataclass(frozen=True)
class BehaviourSpec:
    """xnatpy's methods on an archive type: a hand-written mixin of ``xnat_sdk.behaviour``."""

    owner_xsi_type: str
    mixin: str
    names: frozenset[str]  # public names the mixin adds (with its bases): fields avoid them


@dataclass(frozen=True)
class SchemaFile:
    """One input schema file with its hash, as recorded in ``schemas/schemas.lock``."""

    path: str  # relative to the schema folder, "/"-separated
    sha256: str


@dataclass
class SchemaSet:
    """Everything the renderer needs: types by module, in a deterministic order."""

    types: list[TypeSpec]
    prefixes: dict[str, str]  # namespace URI -> module prefix
    files: list[SchemaFile]


#: The navigation properties of docs/CONTRACT.md, by the xsi:type that declares them.
NAVIGATION: tuple[ListingSpec, ...] = (
    ListingSpec("xnat:projectData", "subjects", "xnat:subjectData"),
    ListingSpec("xnat:projectData", "experiments", "xnat:experimentData"),
    ListingSpec("xnat:projectData", "resources", "xnat:abstractResource"),
    ListingSpec("xnat:subjectData", "experiments", "xnat:subjectAssessorData"),
    ListingSpec("xnat:subjectData", "resources", "xnat:abstractResource"),
    ListingSpec("xnat:experimentData", "resources", "xnat:abstractResource"),
    ListingSpec("xnat:imageScanData", "resources", "xnat:abstractResource"),
    ListingSpec("xnat:imageSessionData", "scans", "xnat:imageScanData"),
    ListingSpec("xnat:imageSessionData", "assessors", "xnat:imageAssessorData"),
    ListingSpec("xnat:imageSessionData", "reconstructions", "xnat:reconstructedImageData"),
    ListingSpec("xnat:abstractResource", "files", None),
)

_ARCHIVE_OBJECT = frozenset({"fields", "create_resource"})

#: Methods xnatpy has on these types (``resource.upload``, ``subject.share``, ...); each mixin's
#: ``names`` must equal its public names (``tests/unit/test_codegen_naming`` checks it).
BEHAVIOURS: tuple[BehaviourSpec, ...] = (
    BehaviourSpec(
        "xnat:projectData", "ProjectBehaviour", _ARCHIVE_OBJECT | {"download_dir", "scan_files"}
    ),
    BehaviourSpec(
        "xnat:subjectData", "SubjectBehaviour", _ARCHIVE_OBJECT | {"download_dir", "share"}
    ),
    BehaviourSpec("xnat:experimentData", "ExperimentBehaviour", _ARCHIVE_OBJECT | {"share"}),
    BehaviourSpec(
        "xnat:imageSessionData",
        "ImageSessionBehaviour",
        frozenset({"download_dir", "create_assessor"}),
    ),
    BehaviourSpec(
        "xnat:imageScanData", "ScanBehaviour", _ARCHIVE_OBJECT | {"dicom_dump", "read_dicom"}
    ),
    BehaviourSpec(
        "xnat:abstractResource",
        "ResourceBehaviour",
        frozenset({"upload", "upload_dir", "download", "download_dir"}),
    ),
)
