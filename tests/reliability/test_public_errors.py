"""Every error the SDK raises can be caught by a name ``xnat_sdk`` exports: a caller must not
need a private module path to tell a lost answer from a timeout or a refused login."""

from __future__ import annotations

import importlib

import xnat_sdk
from xnat_sdk.errors import XNATError

#: The modules whose error classes reach callers (transport, objects, transfers, search,
#: prearchive, the async client).
MODULES = (
    "xnat_sdk.errors",
    "xnat_sdk.objects",
    "xnat_sdk.parallel",
    "xnat_sdk.search",
    "xnat_sdk.prearchive",
    "xnat_sdk.aio._bound",
)


def _error_classes() -> dict[str, type[XNATError]]:
    found: dict[str, type[XNATError]] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, XNATError)
                and value.__module__ == module.__name__
            ):
                found[attribute] = value
    return found


def test_every_error_class_is_exported_by_the_package() -> None:
    classes = _error_classes()
    assert {"XNATOutcomeUnknownError", "XNATTimeoutError", "XNATLoginRequiredError"} <= set(classes)
    missing = sorted(name for name in classes if name not in xnat_sdk.__all__)
    assert missing == []
    for name, cls in classes.items():
        assert getattr(xnat_sdk, name) is cls


def test_every_name_in_all_resolves() -> None:
    for name in xnat_sdk.__all__:
        assert getattr(xnat_sdk, name) is not None
