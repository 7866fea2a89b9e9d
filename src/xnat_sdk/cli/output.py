"""How commands show results: rich tables on a terminal, tab-separated text in a pipe, JSON
with ``--json``.

Every command hands its result here as plain data, so the three forms always agree and the
JSON keys stay stable (scripts rely on them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

#: A JSON value as the commands produce it.
JsonValue = str | int | float | bool | None | Sequence["JsonValue"] | Mapping[str, "JsonValue"]


class Output:
    """Writes one command's result to stdout in the form the user asked for."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=True)

    def rows(
        self,
        rows: Sequence[Mapping[str, str]],
        shown: Sequence[str],
        title: str | None = None,
    ) -> None:
        """A table of ``rows``: every key in JSON, the ``shown`` columns otherwise."""
        if self.as_json:
            self.json(list(rows))
            return
        if self.console.is_terminal:
            table = Table(*shown, title=title, title_justify="left")
            for row in rows:
                table.add_row(*(row.get(column, "") for column in shown))
            self.console.print(table)
            return
        lines = ["\t".join(shown)]
        lines.extend("\t".join(_cell(row.get(column, "")) for column in shown) for row in rows)
        _write("\n".join(lines) + "\n")

    def record(self, values: Mapping[str, JsonValue], text: str) -> None:
        """A single result: ``values`` as JSON, else the human sentence ``text``."""
        if self.as_json:
            self.json(values)
        else:
            _write(text + "\n")

    def text(self, text: str) -> None:
        """Lines only a human or a shell reads (a command chooses its JSON form itself)."""
        _write(text + "\n")

    def json(self, value: JsonValue) -> None:
        """``value`` as indented JSON with sorted keys."""
        _write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def _cell(value: str) -> str:
    """A value that cannot break the tab-separated layout."""
    return value.replace("\t", " ").replace("\n", " ")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
