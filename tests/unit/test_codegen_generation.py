"""The generator against the pinned schema set: coverage, reproducibility, errors, extensions."""

from __future__ import annotations

import importlib
import itertools
import json
import shutil
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from codegen import __main__ as cli
from codegen import lock
from codegen.ir import SchemaFile
from codegen.schema_reader import SchemaError, read_schemas
from xnat_sdk._generated.registry import ELEMENTS, INLINE_TYPES, XSI_TYPES
from xnat_sdk._modelbase import XnatModel
from xnat_sdk.objects import XnatObject

XS = "{http://www.w3.org/2001/XMLSchema}"
EXAMPLES = cli.PROJECT_ROOT / "schemas" / "examples"


def _target_prefixes(path: Path) -> tuple[str | None, str]:
    """(prefix bound to the target namespace, target namespace) of one XSD file."""
    namespaces = dict(
        payload for _event, payload in ET.iterparse(path, events=("start-ns",)) if payload
    )
    target = ET.parse(path).getroot().get("targetNamespace", "")
    by_uri = {uri: prefix for prefix, uri in sorted(namespaces.items()) if prefix}
    return by_uri.get(target), target


@pytest.fixture(scope="module")
def fresh_sources(schemas_dir: Path) -> dict[Path, str]:
    return cli.generate(schemas_dir)


def test_every_named_complex_type_has_a_registered_class(schemas_dir: Path) -> None:
    expected: set[str] = set()
    for entry in lock.read_lock(cli.LOCK_PATH):
        path = schemas_dir / entry.path
        prefix, target = _target_prefixes(path)
        if not target:
            continue
        # security.xsd binds "xdat" to http://nrg.wustl.edu/security: the prefix XNAT uses.
        for node in ET.parse(path).getroot().findall(f"{XS}complexType"):
            expected.add(f"{prefix}:{node.get('name')}")
    assert len(expected) == 170
    assert expected == set(XSI_TYPES)
    for xsi_type, cls in XSI_TYPES.items():
        assert cls.xsi_type == xsi_type
        assert issubclass(cls, XnatModel)


def test_anonymous_types_become_named_inline_classes() -> None:
    names = {cls.__name__ for cls in INLINE_TYPES.values()}
    assert {
        "ProjectDataAliasesAlias",
        "ImageSessionDataScanner",
        "MrScanDataParametersVoxelRes",
        "QcAssessmentDataScansScanSliceQCSlice",
        "DemographicDataWeight",
    } <= names
    assert INLINE_TYPES["xnat:projectData_alias"].__name__ == "ProjectDataAliasesAlias"
    assert all(cls.xsd_inline for cls in INLINE_TYPES.values())


def test_wrappers_of_anonymous_types_in_xnat_xsd_are_all_accounted_for(schemas_dir: Path) -> None:
    root = ET.parse(schemas_dir / "xnat" / "xnat.xsd").getroot()
    anonymous = [node for node in root.iter(f"{XS}complexType") if node.get("name") is None]
    wrappers = 0
    for node in anonymous:
        sequences = node.findall(f"{XS}sequence")
        children = [kid for seq in sequences for kid in seq]
        if (
            len(sequences) == 1
            and len(children) == 1
            and children[0].tag == f"{XS}element"
            and children[0].get("maxOccurs") == "unbounded"
            and node.find(f"{XS}attribute") is None
        ):
            wrappers += 1
    xnat_inline = [key for key in INLINE_TYPES if key.startswith("xnat:")]
    assert len(anonymous) == 161
    assert len(xnat_inline) + wrappers == len(anonymous)


@pytest.mark.parametrize(
    "chain",
    [
        ["MrSessionData", "ImageSessionData", "SubjectAssessorData", "ExperimentData"],
        [
            "QcAssessmentData",
            "MrAssessorData",
            "ImageAssessorData",
            "DerivedData",
            "ExperimentData",
        ],
        ["MrScanData", "ImageScanData"],
        ["ResourceCatalog", "Resource", "AbstractResource"],
        ["XnatAUpdrs3Data", "SubjectAssessorData"],
    ],
)
def test_extension_chains_are_python_inheritance(chain: list[str]) -> None:
    import xnat_sdk.models as models

    classes = [getattr(models, name) for name in chain]
    for child, parent in itertools.pairwise(classes):
        first, *mixins = child.__bases__
        assert first is parent, f"{child.__name__} must extend {parent.__name__}"
        # the only other bases are xnatpy's methods for that type (codegen.ir.BEHAVIOURS)
        assert all(m.__module__ == "xnat_sdk.behaviour" for m in mixins), child.__bases__
    assert issubclass(classes[-1], XnatModel)
    assert issubclass(XnatModel, XnatObject)


def test_abstract_types_are_marked() -> None:
    import xnat_sdk.models as models

    assert models.AbstractResource.xsd_abstract and models.AbstractProjectAsset.xsd_abstract
    assert not models.ResourceCatalog.xsd_abstract and not models.MrSessionData.xsd_abstract
    assert not models.GenericData.xsd_abstract


def test_registry_maps_elements_and_types() -> None:
    import xnat_sdk.models as models

    assert XSI_TYPES["xnat:mrSessionData"] is models.MrSessionData
    assert ELEMENTS["xnat:MRSession"] is models.MrSessionData
    assert ELEMENTS["xnat:FieldDefinitionSet"] is ELEMENTS["xnat:FieldDefinitionGroup"]
    assert models.MrSessionData.xml_element == "xnat:MRSession"
    assert models.ImageSessionData.xml_element is None


def test_navigation_properties_match_the_contract() -> None:
    import xnat_sdk.models as models

    expected = {
        "ProjectData": {"subjects", "experiments", "resources"},
        "SubjectData": {"experiments", "resources"},
        "ExperimentData": {"resources"},
        "ImageScanData": {"resources"},
        "ImageSessionData": {"scans", "assessors", "reconstructions"},
        "AbstractResource": {"files"},
    }
    for class_name, properties in expected.items():
        cls = getattr(models, class_name)
        for name in properties:
            assert isinstance(vars(cls)[name], property), f"{class_name}.{name}"
    # The XSD data under a navigation name stays reachable under its alias.
    assert models.ImageSessionData.model_fields["scans_"].serialization_alias == "scans"


def test_output_is_reproducible_and_matches_the_committed_files(
    fresh_sources: dict[Path, str], schemas_dir: Path, tmp_path: Path
) -> None:
    again = cli.generate(schemas_dir)
    assert again == fresh_sources
    for path, source in fresh_sources.items():
        copy = tmp_path / path.name
        copy.write_text(source, encoding="utf-8")
        assert copy.read_bytes() == path.read_bytes(), f"{path} drifted: run `make generate`"
    assert cli.drift(fresh_sources) == []


def test_every_generated_file_starts_with_the_header(fresh_sources: dict[Path, str]) -> None:
    for path, source in fresh_sources.items():
        first = source.splitlines()[0]
        assert first.startswith("# Generated by xnat-sdk codegen "), path
        assert "do not edit" in first


def test_check_reports_drift_by_file_name(fresh_sources: dict[Path, str]) -> None:
    changed = dict(fresh_sources)
    target = cli.GENERATED_DIR / "cat" / "cat_catalog.py"
    changed[target] = changed[target] + "# hand edit\n"
    assert cli.drift(changed) == ["src/xnat_sdk/_generated/cat/cat_catalog.py"]


def test_check_command_passes_on_the_committed_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


# -- errors -------------------------------------------------------------------------------
def _copy_schemas(schemas_dir: Path, target: Path) -> Path:
    folder = target / "xsd"
    shutil.copytree(schemas_dir, folder)
    return folder


def test_a_changed_schema_is_refused_naming_the_file(schemas_dir: Path, tmp_path: Path) -> None:
    folder = _copy_schemas(schemas_dir, tmp_path)
    catalog = folder / "catalog" / "catalog.xsd"
    catalog.write_text(catalog.read_text() + "<!-- local change -->\n")
    with pytest.raises(lock.LockError, match=r"catalog[/\\]catalog\.xsd: sha256 .* differs"):
        lock.verify(folder, lock.read_lock(cli.LOCK_PATH))


def test_an_unlisted_schema_is_refused(schemas_dir: Path, tmp_path: Path) -> None:
    folder = _copy_schemas(schemas_dir, tmp_path)
    shutil.copy(EXAMPLES / "demo.xsd", folder / "xnat" / "extra.xsd")
    with pytest.raises(lock.LockError, match=r"extra\.xsd: not in schemas\.lock"):
        lock.verify(folder, lock.read_lock(cli.LOCK_PATH))


def test_update_lock_accepts_a_reviewed_change(schemas_dir: Path, tmp_path: Path) -> None:
    folder = _copy_schemas(schemas_dir, tmp_path)
    catalog = folder / "catalog" / "catalog.xsd"
    catalog.write_text(catalog.read_text() + "<!-- reviewed -->\n")
    entries = lock.relock(folder, lock.read_lock(cli.LOCK_PATH))
    lock_path = tmp_path / "schemas.lock"
    lock.write_lock(lock_path, entries)
    files = lock.verify(folder, lock.read_lock(lock_path))
    assert files[0].path == "xnat/xnat.xsd"  # the importing file stays first
    assert {item.path: item.sha256 for item in files}["catalog/catalog.xsd"] == (
        lock.sha256_of(catalog)
    )


def test_a_schema_that_does_not_parse_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "broken.xsd"
    broken.parent.mkdir()
    broken.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element')
    with pytest.raises(SchemaError, match=r"broken\.xsd"):
        read_schemas(tmp_path, [SchemaFile("broken/broken.xsd", "")], None)


@pytest.mark.parametrize(
    "body",
    [
        '<xs:complexType name="thing"><xs:sequence>'
        '<xs:element name="part" type="b:missingType"/></xs:sequence></xs:complexType>',
        '<xs:complexType name="thing"><xs:complexContent><xs:extension base="b:missingType"/>'
        "</xs:complexContent></xs:complexType>",
    ],
    ids=["element-type", "base-type"],
)
def test_an_unknown_type_reference_names_the_file_and_type(body: str, tmp_path: Path) -> None:
    schema = tmp_path / "bad" / "bad.xsd"
    schema.parent.mkdir()
    schema.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:b="urn:bad" '
        f'targetNamespace="urn:bad" elementFormDefault="qualified">{body}</xs:schema>'
    )
    with pytest.raises(SchemaError, match=r"bad\.xsd.*missingType") as caught:
        read_schemas(tmp_path, [SchemaFile("bad/bad.xsd", "")], None)
    assert str(caught.value).startswith(str(schema))


def test_cli_reports_a_hash_mismatch_as_an_error(
    schemas_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy_schemas(schemas_dir, tmp_path)
    (folder / "roi" / "roi.xsd").write_text("<changed/>")
    assert cli.main(["--check", "--schemas", str(folder)]) == 2
    assert "roi.xsd" in capsys.readouterr().err


# -- extension modules --------------------------------------------------------------------
@pytest.fixture
def demo_package(schemas_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The example plugin generated into ``tmp_path/demo_models`` and importable."""
    out = tmp_path / "demo_models"
    cli.write_all(cli.generate_extension(schemas_dir, [EXAMPLES / "demo.xsd"], out), out)
    sys.path.insert(0, str(tmp_path))
    try:
        yield out.name
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == out.name]:
            del sys.modules[name]


def test_the_example_plugin_generates_a_working_extension_module(
    demo_package: str,
) -> None:
    import xnat_sdk.models as models

    importlib.import_module(demo_package)  # importing the package registers its classes
    demo = importlib.import_module(f"{demo_package}.demo")
    item: dict[str, Any] = {
        "meta": {"xsi:type": "demo:volumetryData", "isHistory": False},
        "data_fields": {
            "ID": "XNAT_E00009",
            "label": "vol1",
            "project": "P1",
            "imageSession_ID": "XNAT_E00001",
            "brainVolume": 1203.5,
            "brainVolume/units": "cm3",
            "software": "fs-7",
        },
        "children": [
            {
                "field": "regions/region",
                "items": [
                    {
                        "meta": {"xsi:type": "demo:volumetryData_region", "isHistory": False},
                        "data_fields": {"name": "hippocampus", "hemisphere": "left", "volume": 4.1},
                        "children": [],
                    }
                ],
            }
        ],
    }
    # Found through the registry by a caller that only knows the XNAT base type.
    parsed = models.ImageAssessorData.from_json_item(item)
    assert type(parsed) is demo.DemoVolumetryData
    volumetry: Any = parsed  # the class comes from a module generated at test time
    assert volumetry.brain_volume is not None and volumetry.brain_volume.units == "cm3"
    assert volumetry.regions[0].hemisphere == "left"
    assert parsed.to_json_item()["data_fields"]["brainVolume"] == 1203.5
    document = parsed.to_xml()
    assert document.splitlines()[1].startswith("<demo:Volumetry ")
    assert models.ImageAssessorData.from_xml(document) == parsed

    registry = importlib.import_module(f"{demo_package}.registry")
    assert set(registry.XSI_TYPES) == {"demo:volumetryData", "demo:cognitionData"}
    volumetry_cls = registry.XSI_TYPES["demo:volumetryData"]
    assert issubclass(volumetry_cls, models.ImageAssessorData)
    assert issubclass(registry.XSI_TYPES["demo:cognitionData"], models.SubjectAssessorData)
    assert registry.ELEMENTS["demo:Volumetry"] is volumetry_cls is demo.DemoVolumetryData
    assert "Brain volumes" in (volumetry_cls.__doc__ or "")


def test_from_server_pulls_the_schemas_and_generates_the_plugin(
    schemas_dir: Path, tmp_path: Path
) -> None:
    served = {path.relative_to(schemas_dir).as_posix(): path for path in schemas_dir.rglob("*.xsd")}
    served["demo/demo.xsd"] = EXAMPLES / "demo.xsd"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/xapi/schemas":
                body = json.dumps(sorted(name.removesuffix(".xsd") for name in served)).encode()
            else:
                name = self.path.removeprefix("/xapi/schemas/") + ".xsd"
                if name not in served:
                    self.send_error(404)
                    return
                body = served[name].read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = tmp_path / "site_models"
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert cli.main(["--from-server", url, "--out", str(out)]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(path.name for path in out.glob("*.py")) == [
        "__init__.py",
        "demo.py",
        "registry.py",
    ]
    assert "class DemoCognitionData(SubjectAssessorData):" in (out / "demo.py").read_text()


def test_from_server_reports_an_unreachable_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--from-server", "http://127.0.0.1:9", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "http://127.0.0.1:9/xapi/schemas" in capsys.readouterr().err


def test_wildcards_choices_and_restrictions_generate_usable_models(
    schemas_dir: Path, tmp_path: Path
) -> None:
    """xs:any content and attributes are kept as extras; a choice's members are optional."""
    schema = tmp_path / "wild.xsd"
    schema.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:w="urn:wild" '
        'xmlns:xnat="http://nrg.wustl.edu/xnat" targetNamespace="urn:wild" '
        'elementFormDefault="qualified">'
        '<xs:import namespace="http://nrg.wustl.edu/xnat"/>'
        '<xs:element name="Note" type="w:note"/>'
        '<xs:complexType name="note"><xs:complexContent><xs:extension base="xnat:experimentData">'
        '<xs:sequence><xs:choice><xs:element name="a" type="xs:int"/>'
        '<xs:element name="b" type="xs:string"/></xs:choice>'
        '<xs:any namespace="##any" processContents="lax" minOccurs="0"/></xs:sequence>'
        '<xs:anyAttribute processContents="lax"/>'
        "</xs:extension></xs:complexContent></xs:complexType></xs:schema>"
    )
    out = tmp_path / "wild_models"
    cli.write_all(cli.generate_extension(schemas_dir, [schema], out), out)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("wild_models.w")
        note_cls = module.WNote
        assert not note_cls.model_fields["a"].is_required()
        assert note_cls.model_fields["b"].annotation == str | None
        assert note_cls(a=7).a == 7
        with pytest.raises(ValueError, match="less than or equal to 2147483647"):
            note_cls(a=2**31)  # xs:int's own range is a facet too
        note = note_cls.from_xml(
            '<w:Note xmlns:w="urn:wild" ID="E1" colour="red"><w:b>text</w:b>'
            "<w:free>kept</w:free></w:Note>"
        )
        assert note.b == "text" and note.a is None
        assert note.model_extra == {"colour": "red", "free": "kept"}
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == "wild_models"]:
            del sys.modules[name]


def test_from_server_against_the_emulator_finds_nothing_new(
    xnat_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator serves the pinned set (plus its pseudo-type schema): no plugin modules."""
    out = tmp_path / "site_models"
    arguments = ["--from-server", xnat_emulator.url, "--out", str(out)]
    assert cli.main(arguments) == 2  # the schemas need a login
    monkeypatch.setenv("XNAT_SDK_PASSWORD", xnat_emulator.password)
    assert cli.main([*arguments, "--user", xnat_emulator.user]) == 0
    registry = (out / "registry.py").read_text()
    assert "XSI_TYPES" in registry and '("xnat",' not in registry
    assert sorted(path.name for path in out.glob("*.py")) == ["__init__.py", "registry.py"]
