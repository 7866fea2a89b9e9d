"""Site-level endpoints: version, login and sessions, alias tokens, users and schemas."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from xnat_sdk.emulator.auth import Account, AliasToken
from xnat_sdk.emulator.context import context_of, current_account, require_account
from xnat_sdk.emulator.errors import XnatHTTPError, forbidden, not_found
from xnat_sdk.emulator.listings import listing_response
from xnat_sdk.emulator.schemas import PSEUDO_TYPES_XSD

LOGIN_FAILED = "Login attempt failed. Please try again."


async def root(request: Request) -> Response:
    """The web UI's landing page (clients GET it to detect redirects and, with an alias
    token in basic auth, to obtain a session cookie)."""
    account = current_account(request)
    who = account.login if account else "Guest"
    return Response(
        f"<html><head><title>XNAT</title></head><body><p>XNAT emulator. Logged in as: {who}"
        "</p></body></html>",
        media_type="text/html",
    )


async def version(request: Request) -> Response:
    return PlainTextResponse(context_of(request).version)


async def build_info(request: Request) -> Response:
    require_account(request)
    ctx = context_of(request)
    return JSONResponse(
        {
            "version": ctx.version,
            "buildNumber": "emulator",
            "buildDate": "",
            "commit": "",
            "sha": "",
        }
    )


def _session_cookie_headers(session_id: str) -> dict[str, str]:
    cookie = SimpleCookie()
    cookie["JSESSIONID"] = session_id
    cookie["JSESSIONID"]["path"] = "/"
    cookie["JSESSIONID"]["httponly"] = True
    return {"set-cookie": cookie["JSESSIONID"].OutputString()}


async def jsession(request: Request) -> Response:
    """GET: the caller's session id (opening one); DELETE: log out."""
    ctx = context_of(request)
    session_id: str | None = request.scope.get("xnat_sdk.session_id")
    if request.method == "DELETE":
        if session_id is not None:
            ctx.auth.end_session(session_id)
        return PlainTextResponse("")
    account = require_account(request)
    if session_id is None:
        session_id = ctx.auth.open_session(account.login).session_id
        return PlainTextResponse(session_id, headers=_session_cookie_headers(session_id))
    return PlainTextResponse(session_id)


async def services_auth(request: Request) -> Response:
    """Form login (``username``/``password``): the new JSESSIONID as text, and its cookie."""
    form = await request.form()
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise XnatHTTPError(400, "Username and password are required.")
    ctx = context_of(request)
    account = ctx.auth.check_password(username, password)
    if account is None:
        raise XnatHTTPError(401, LOGIN_FAILED)
    session = ctx.auth.open_session(account.login)
    return PlainTextResponse(
        session.session_id, headers=_session_cookie_headers(session.session_id)
    )


async def auth_check(request: Request) -> Response:
    account = require_account(request)
    return PlainTextResponse(f"User '{account.login}' is logged in")


def _token_json(token: AliasToken, account: Account) -> dict[str, object]:
    return {
        "alias": token.alias,
        "secret": token.secret,
        "xdatUserId": token.login,
        "singleUse": False,
        "enabled": True,
        "created": token.created_ms,
        "timestamp": token.created_ms,
        "estimatedExpirationTime": token.expires_ms,
        "validIPAddresses": [],
        "id": account.user_id,
    }


async def tokens(request: Request) -> Response:
    """``/data/services/tokens/{issue|validate|invalidate}[...]`` (AliasTokenRestlet)."""
    ctx = context_of(request)
    account = require_account(request)
    operation = request.path_params["operation"]
    login = request.path_params.get("login")
    alias = request.path_params.get("alias")
    secret = request.path_params.get("secret")
    if login is not None and login != account.login and not account.is_admin:
        raise forbidden("Only admins can work with alias tokens for other users.")
    if alias is not None and ctx.auth.token(alias) is None:
        raise not_found(f"Can't find an alias token with the alias {alias}")
    if operation == "issue":
        owner = ctx.auth.account(login) if login else account
        if owner is None:
            raise XnatHTTPError(400, f"An error occurred retrieving the user: {login}")
        return JSONResponse(_token_json(ctx.auth.issue_token(owner.login), owner))
    if operation == "validate":
        if alias is None or secret is None:
            raise XnatHTTPError(401, "You must specify both token and secret to validate a token.")
        token = ctx.auth.validate_token(alias, secret)
        return JSONResponse({"valid": token.login if token else None})
    if operation == "invalidate":
        if alias is not None and secret is not None:
            ctx.auth.invalidate_token(alias, secret)
        return Response(json.dumps({"result": "OK"}), media_type="application/json")
    raise XnatHTTPError(400, f"Unknown operation: {operation}")


def _profile(account: Account) -> dict[str, object]:
    return {
        "id": account.user_id,
        "username": account.login,
        "firstName": account.firstname,
        "lastName": account.lastname,
        "email": account.email,
        "enabled": account.enabled,
        "verified": True,
        "secured": True,
    }


async def xapi_users(request: Request) -> Response:
    require_account(request)
    return JSONResponse([account.login for account in context_of(request).auth.accounts()])


async def xapi_user_profiles(request: Request) -> Response:
    require_account(request)
    return JSONResponse([_profile(account) for account in context_of(request).auth.accounts()])


async def xapi_user(request: Request) -> Response:
    require_account(request)
    login = request.path_params["login"]
    account = context_of(request).auth.account(login)
    if account is None:
        raise not_found(f"User {login} not found.")
    return JSONResponse(_profile(account))


USER_COLUMNS = ("xdat_user_id", "login", "firstname", "lastname", "email")


async def data_users(request: Request) -> Response:
    """``/data/users`` (and ``/data/user``): the user listing xnatpy's ``session.users`` reads."""
    require_account(request)
    rows = [
        {
            "xdat_user_id": account.user_id,
            "login": account.login,
            "firstname": account.firstname,
            "lastname": account.lastname,
            "email": account.email,
        }
        for account in context_of(request).auth.accounts()
    ]
    return listing_response(request, rows, USER_COLUMNS, "Users")


async def xapi_schema_names(request: Request) -> Response:
    require_account(request)
    return JSONResponse(context_of(request).schemas.names())


async def xapi_schema(request: Request) -> Response:
    require_account(request)
    name = request.path_params["name"]
    schemas = context_of(request).schemas
    if schemas.is_pseudo_types(name):
        return Response(PSEUDO_TYPES_XSD, media_type="application/xml")
    path = schemas.by_name(name)
    if path is None:
        raise not_found(f"No schema named {name} was found.")
    return FileResponse(path, media_type="application/xml")


async def schema_file(request: Request) -> Response:
    folder, file_name = request.path_params["folder"], request.path_params["file"]
    schemas = context_of(request).schemas
    if schemas.is_pseudo_types(f"{folder}/{file_name}"):
        return Response(PSEUDO_TYPES_XSD, media_type="application/xml")
    path = schemas.by_file(folder, file_name)
    if path is None:
        raise not_found(f"No schema file {folder}/{file_name}")
    return FileResponse(path, media_type="application/xml")


routes: list[BaseRoute] = [
    Route("/", root, methods=["GET"]),
    Route("/data/version", version, methods=["GET"]),
    Route("/xapi/siteConfig/buildInfo", build_info, methods=["GET"]),
    Route("/data/JSESSION", jsession, methods=["GET", "DELETE"]),
    Route("/data/services/auth", services_auth, methods=["PUT", "POST"]),
    Route("/data/auth", auth_check, methods=["GET"]),
    Route("/data/services/tokens/{operation}", tokens, methods=["GET"]),
    Route("/data/services/tokens/{operation}/user/{login}", tokens, methods=["GET"]),
    Route("/data/services/tokens/{operation}/{alias}", tokens, methods=["GET"]),
    Route("/data/services/tokens/{operation}/{alias}/{secret}", tokens, methods=["GET"]),
    Route("/xapi/users", xapi_users, methods=["GET"]),
    Route("/xapi/users/profiles", xapi_user_profiles, methods=["GET"]),
    Route("/xapi/users/{login}", xapi_user, methods=["GET"]),
    Route("/data/users", data_users, methods=["GET"]),
    Route("/data/user", data_users, methods=["GET"]),
    Route("/xapi/schemas", xapi_schema_names, methods=["GET"]),
    Route("/xapi/schemas/{name:path}", xapi_schema, methods=["GET"]),
    Route("/schemas/{folder}/{file}", schema_file, methods=["GET"]),
]
