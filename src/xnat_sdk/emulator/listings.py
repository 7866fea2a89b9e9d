"""Rendering of XNAT listings (``XFTTable``) as JSON, XML, CSV and HTML.

Every listing is a table of strings: a real server turns numbers, booleans and missing values
into strings (``""`` for missing), and so does :func:`listing_response`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from html import escape
from xml.sax.saxutils import escape as xml_escape

from starlette.requests import Request
from starlette.responses import Response

from xnat_sdk.emulator.errors import bad_request

Row = Mapping[str, object]


def as_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def requested_format(request: Request, default: str = "json") -> str:
    return (request.query_params.get("format") or default).lower()


def listing_response(
    request: Request,
    rows: Sequence[Row],
    columns: Sequence[str],
    title: str,
    *,
    cells: Sequence[Mapping[str, str]] | None = None,
) -> Response:
    """``rows`` (already filtered) as the listing format the request asks for.

    ``cells`` replaces ``rows`` when the caller already has each row as exactly ``columns``
    mapped to strings (the archive listings): 100,000 rows need not be copied again.
    """
    table = (
        cells
        if cells is not None
        else [{column: as_cell(row.get(column)) for column in columns} for row in rows]
    )
    fmt = requested_format(request)
    if fmt == "json":
        body = {"ResultSet": {"Result": table, "totalRecords": str(len(table)), "title": title}}
        return Response(json.dumps(body), media_type="application/json")
    if fmt == "xml":
        return Response(_xml_table(table, columns, title), media_type="text/xml")
    if fmt == "csv":
        return Response(_csv_table(table, columns), media_type="text/csv")
    if fmt == "html":
        return Response(_html_table(table, columns, title), media_type="text/html")
    raise bad_request(f"Unsupported format: {fmt}")


def json_listing_body(objects: Sequence[str], title: str) -> bytes:
    """The JSON listing of rows each already rendered as a JSON object (``rows.sql_json_rows``):
    joined as text, so 100,000 rows are neither parsed nor dumped again."""
    head = '{"ResultSet": {"Result": ['
    tail = f'], "totalRecords": "{len(objects)}", "title": {json.dumps(title)}}}}}'
    return (head + ", ".join(objects) + tail).encode()


def _xml_table(table: Sequence[Mapping[str, str]], columns: Sequence[str], title: str) -> str:
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(
        f'<results xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'title="{xml_escape(title, {chr(34): "&quot;"})}">\n<columns>'
    )
    for column in columns:
        out.write(f"<column>{xml_escape(column)}</column>")
    out.write("</columns>\n<rows>\n")
    for row in table:
        out.write("<row>")
        for column in columns:
            out.write(f"<cell>{xml_escape(row[column])}</cell>")
        out.write("</row>\n")
    out.write("</rows>\n</results>\n")
    return out.getvalue()


def _csv_table(table: Sequence[Mapping[str, str]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in table:
        writer.writerow([row[column] for column in columns])
    return out.getvalue()


def _html_table(table: Sequence[Mapping[str, str]], columns: Sequence[str], title: str) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(row[column])}</td>" for column in columns) + "</tr>\n"
        for row in table
    )
    return (
        f"<html><head><title>{escape(title)}</title></head><body>"
        f"<table><tr>{head}</tr>\n{body}</table></body></html>\n"
    )
