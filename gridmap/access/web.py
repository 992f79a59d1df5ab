"""Sign-in for the Flask server: sessions, the guard in front of every route, CSRF, and the
``/login`` and ``/logout`` pages.

:func:`install` (called by ``create_app`` and ``register_api``) sets the session key and
cookie flags and adds one ``before_request`` guard that, for every request:

1. finds who asks — an ``Authorization: Bearer`` API token (or Open311's ``api_key``), else
   the signed session cookie — and stores the :class:`~gridmap.access.User` on ``flask.g``
   (read it with :func:`gridmap.access.current_user`);
2. looks up the route's :class:`~gridmap.access.policy.Access` level: anonymous callers of
   a non-public route get a redirect to ``/login`` (pages) or 401 JSON (everything else);
   a role the level does not allow gets 403;
3. checks the CSRF token (``X-CSRFToken`` header or ``csrf_token`` form field) of every
   state-changing request made with the session cookie. Dash sends the header by itself
   from the ``_csrf_token`` cookie that page responses set. Bearer-token calls carry no
   ambient credentials, so they need none;
4. for dashboard pages and Dash callbacks, checks the roles their page declared
   (:mod:`gridmap.access.pages`): a page the role may not open answers 403 with the
   sign-in page's "forbidden" text, a callback it may not call (or one no page declared)
   answers 403 JSON before it runs.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax) holding the account id and an
expiry; the account is re-read on every request, so disabling it ends its sessions.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from wtforms.validators import ValidationError

from gridmap.access import G_USER, Role, User, audit, current_user, pages, scope
from gridmap.access.accounts import authenticate, load_user, user_for_token
from gridmap.access.errors import RateLimited
from gridmap.access.policy import Access, allow, level_of, permits
from gridmap.access.ratelimit import check_login_allowed
from gridmap.errors import GridmapError
from gridmap.i18n import normalize_language, t
from gridmap.settings import Settings, get_settings

#: Cookie Dash reads the CSRF token from (and sends back as ``X-CSRFToken``).
CSRF_COOKIE = "_csrf_token"
#: Session keys.
SESSION_USER, SESSION_NAME, SESSION_EXPIRES, SESSION_KIND = "uid", "un", "exp", "kind"
#: Endpoints whose anonymous callers are sent to the sign-in page (the rest get 401).
PAGE_ENDPOINTS = frozenset({"/", "/<path:path>"})
#: Dash's callback endpoint: each call is checked against its page's roles.
CALLBACK_ENDPOINT = "/_dash-update-component"
#: Static files: public, answered without a database round trip.
STATIC_ENDPOINTS = frozenset(
    {
        "static",
        "_dash_assets.static",
        "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
        "/_favicon.ico",
    }
)
#: Where a display-token sign-in lands unless ``next`` says otherwise.
WALL_PATH = "/wall"
#: Roles a display token may sign in (a wall screen shows the whole city, masked).
DISPLAY_ROLES = frozenset({Role.COMMAND})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
G_AUTH = "GRIDMAP_AUTH"  # how the user was identified: "session" or "token"

blueprint = Blueprint("access", __name__, template_folder="templates")
log = logging.getLogger(__name__)


def secret_key(settings: Settings, engine: Engine | None = None) -> str:
    """The configured key; else the database's (``gridmap_meta``), so that every server of
    one database signs sessions alike (HAProxy may send each request to another). It is
    made once, from this machine's ``<home>/secret_key`` (kept, mode 600): the first server
    to ask stores its own, so a single machine's sessions stay valid. The home file alone
    when there is no ``engine`` or its database cannot be read."""
    if settings.secret_key:
        return settings.secret_key
    own = _home_key(settings)
    if engine is None:
        return own
    try:
        with engine.begin() as conn:
            conn.execute(_STORE_KEY, {"key": SECRET_META_KEY, "value": own})
            return conn.execute(_READ_KEY, {"key": SECRET_META_KEY}).scalar_one()
    except SQLAlchemyError:
        log.warning("session key: the database's could not be read; this machine's is used")
        return own


#: ``gridmap_meta`` key of the session key shared by the servers of a database.
SECRET_META_KEY = "session_secret"
_STORE_KEY = text(
    "INSERT INTO gridmap_meta (key, value) VALUES (:key, to_jsonb(CAST(:value AS text))) "
    "ON CONFLICT (key) DO NOTHING"
)
_READ_KEY = text("SELECT value #>> '{}' FROM gridmap_meta WHERE key = :key")


def _home_key(settings: Settings) -> str:
    """This machine's key, made once and kept in ``<home>/secret_key`` (mode 600)."""
    path: Path = settings.home_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic: fails if it exists
        except FileExistsError:
            pass  # another worker made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def install(server: Flask) -> None:
    """Put sign-in in front of every route of ``server`` (idempotent)."""
    if "gridmap_access" in server.extensions:
        return
    settings = get_settings()
    server.extensions["gridmap_access"] = True
    if not server.secret_key:
        with server.app_context():
            try:
                engine: Engine | None = _engine()
            except GridmapError:  # no database configured yet
                engine = None
            server.secret_key = secret_key(settings, engine)
    server.config.update(
        SESSION_COOKIE_NAME="gridmap_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=max(
            settings.session_hours * 3600, settings.display_session_days * 86400
        ),
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session, which expires by itself
        WTF_CSRF_SSL_STRICT=False,
    )
    scope.install()  # grid-scoped users' read requests run under row-level security
    server.before_request(guard)
    server.after_request(set_csrf_cookie)
    server.register_blueprint(blueprint)


def _engine() -> Engine:
    from gridmap.db.app import app_engine

    return app_engine()


def _session_engine() -> Engine:
    """Where a session's account is read: the primary, or a read replica while the primary
    is lost (pages keep showing data, read-only)."""
    from gridmap.db.app import primary_lost, read_engine

    return read_engine() if primary_lost() else _engine()


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if request.path.startswith("/open311/") and request.method == "POST":
        request.get_data(cache=True)  # keep the raw body: Open311 re-reads it strictly
        return request.values.get("api_key") or None  # GeoReport v2 passes the key so
    return None


def identify() -> User | None:
    """The user of this request from its bearer token or session (None: anonymous)."""
    token = _bearer()
    if token:
        g.setdefault(G_AUTH, "token")
        from gridmap.db.app import bookkeeping

        with bookkeeping():  # the token's last use is not the caller's data
            return user_for_token(_engine(), token, "api")
    uid = session.get(SESSION_USER)
    if uid is None:
        return None
    if float(session.get(SESSION_EXPIRES, 0)) < time.time():
        session.clear()
        return None
    engine = _session_engine()
    try:
        with engine.connect() as conn:
            user = load_user(conn, int(uid))
    except SQLAlchemyError:
        from gridmap.db.app import primary_lost_now, read_engine

        if not primary_lost_now():
            raise
        engine = read_engine()  # the primary was lost since the last check
        with engine.connect() as conn:
            user = load_user(conn, int(uid))
    if user is None and engine is not _engine():
        # a replica may not have received the newest accounts: unsure, not signed out
        raise GridmapError("The account cannot be checked while the database is read-only.")
    if user is None or user.username != session.get(SESSION_NAME):
        session.clear()  # disabled, or a cookie of another gridmap sharing the secret
        return None
    g.setdefault(G_AUTH, "session")
    return user


def _wants_page(endpoint: str | None) -> bool:
    if request.method != "GET":
        return False
    return endpoint in PAGE_ENDPOINTS or "text/html" in request.headers.get("Accept", "")


def _refuse(
    status: int, message: str, endpoint: str | None, page_key: str = "login.forbidden"
) -> Response:
    lang = normalize_language(request.args.get("lang") or get_settings().language)
    if status == 401 and _wants_page(endpoint):
        target = request.full_path if request.query_string else request.path
        query = {"next": target} | ({"lang": lang} if request.args.get("lang") else {})
        return redirect("/login?" + urlencode(query))
    if request.path.startswith("/open311/"):
        response = jsonify([{"code": status, "description": message}])
    elif _wants_page(endpoint):
        # A refused page offers a way back or out: back, sign out, or another account
        # (the form signs in and returns to the page refused).
        refused = {"forbidden": True, "next": safe_next(request.path)} if status == 403 else {}
        response = Response(
            render_template("login.html", **_page(lang, error=t(page_key, lang), **refused)),
            mimetype="text/html",
        )
    else:
        response = jsonify(error={"message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gridmap"'
    return response


def guard() -> Response | None:
    """The ``before_request`` hook: identify, authorise, check CSRF."""
    endpoint = request.endpoint
    level = level_of(endpoint, current_app.view_functions.get(endpoint or ""))
    if endpoint in STATIC_ENDPOINTS:
        return None
    try:
        user = identify()
    except (SQLAlchemyError, GridmapError):  # database down: public routes still answer
        if level is Access.PUBLIC:
            return None
        message = "The database is unavailable; try again shortly."
        return _refuse(503, message, endpoint, "map.error")
    g.setdefault(G_USER, user)
    if not permits(level, user):
        if user is None:
            return _refuse(401, "Sign in first (session or Authorization: Bearer).", endpoint)
        return _refuse(403, f"The role {user.role.value} may not use this route.", endpoint)
    if request.method not in SAFE_METHODS and g.get(G_AUTH) == "session":
        token = request.headers.get("X-CSRFToken") or request.form.get("csrf_token")
        try:
            validate_csrf(token)
        except ValidationError:
            message = "Missing or invalid CSRF token (send X-CSRFToken)."
            return _refuse(403, message, endpoint, "login.csrf")
    return _page_guard(endpoint, user)


def _page_guard(endpoint: str | None, user: User | None) -> Response | None:
    """Refuse a page or Dash callback the user's role may not use (403)."""
    if user is None:
        return None  # (public routes only: the others need a user)
    if endpoint in PAGE_ENDPOINTS and request.method in ("GET", "HEAD"):
        roles = pages.page_roles(request.path)
        if roles is not None and user.role not in roles:
            return _refuse(403, f"The role {user.role.value} may not open this page.", endpoint)
    elif endpoint == CALLBACK_ENDPOINT:
        body = request.get_json(silent=True)
        if not pages.may_call(current_app, user.role, body):
            message = f"The role {user.role.value} may not call this callback."
            return _refuse(403, message, endpoint)
    return None


def set_csrf_cookie(response: Response) -> Response:
    """Give signed-in pages the CSRF cookie Dash (and page scripts) send back."""
    if request.method == "GET" and response.mimetype == "text/html" and g.get(G_AUTH) == "session":
        response.set_cookie(
            CSRF_COOKIE,
            generate_csrf(),
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=False,  # Dash reads it from document.cookie
        )
    return response


# -- pages -----------------------------------------------------------------------------------


def safe_next(raw: str | None, default: str = "/") -> str:
    """A same-site path to go to after sign-in (anything else: ``default``)."""
    if not raw:
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith("/") or raw.startswith("//"):
        return default
    if "\\" in raw or parts.path.startswith(("/login", "/logout")):
        return default
    return raw


def _page(lang: str, **values) -> dict:
    other = "en" if lang == "zh-CN" else "zh-CN"
    return {
        "lang": lang,
        "t": lambda key, **kw: t(key, lang, **kw),
        "other_lang": other,
        "other_label": t(f"lang.{other}", other),
        "csrf_token": generate_csrf(),
        "next": safe_next(request.values.get("next")),
        "user": current_user(),
        "username": "",
        "error": None,
        "notice": None,
        "forbidden": False,
        **values,
    }


def _start_session(user: User, kind: str) -> None:
    settings = get_settings()
    hours = settings.display_session_days * 24 if kind == "display" else settings.session_hours
    lifetime = hours * 3600
    session.clear()  # a new session (and CSRF token) on every sign-in: no fixation
    session.permanent = True
    session[SESSION_USER] = user.id
    session[SESSION_NAME] = user.username
    session[SESSION_KIND] = kind
    session[SESSION_EXPIRES] = time.time() + lifetime
    g.pop(G_USER, None)
    g.setdefault(G_USER, user)
    g.pop(G_AUTH, None)
    g.setdefault(G_AUTH, "session")


def _render(lang: str, status: int = 200, **values) -> Response:
    html = render_template("login.html", **_page(lang, **values))
    return Response(html, status=status, mimetype="text/html")


@blueprint.route("/login", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def login() -> Response:
    """The sign-in page; ``?token=`` signs a wall screen in without a keyboard. It reads
    accounts, tokens and the audit log as the app, never through the scope of whoever is
    signed in already (a grid lead or an area centre signing a wall screen in)."""
    with scope.unscoped():
        return _login()


def _login() -> Response:
    lang = normalize_language(request.values.get("lang") or get_settings().language)
    engine = _engine()
    ip = audit.client_ip()
    token = request.args.get("token")
    if request.method == "GET" and token:
        try:
            check_login_allowed(engine, "", ip)
        except RateLimited:
            return _render(lang, 429, error=t("login.rate_limited", lang))
        user = user_for_token(engine, token, "display")
        if user is None or user.role not in DISPLAY_ROLES:
            audit.record(audit.LOGIN_FAILED, "display_token", engine=engine, user=None)
            return _render(lang, 401, error=t("login.token_failed", lang))
        _start_session(user, "display")
        audit.record(audit.LOGIN, "display_token", engine=engine, user=user)
        return redirect(safe_next(request.args.get("next"), WALL_PATH))
    if request.method == "GET":
        notice = t("login.signed_out", lang) if request.args.get("out") else None
        return _render(lang, notice=notice)
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return _render(lang, 400, error=t("login.csrf", lang), username=username)
    try:
        check_login_allowed(engine, username, ip)
    except RateLimited as exc:
        response = _render(lang, 429, error=t("login.rate_limited", lang), username=username)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    user = authenticate(engine, username, password) if username and password else None
    if user is None:
        audit.record(audit.LOGIN_FAILED, None, engine=engine, user=None, username=username)
        return _render(lang, 401, error=t("login.failed", lang), username=username)
    _start_session(user, "password")
    audit.record(audit.LOGIN, None, engine=engine, user=user)
    target = safe_next(request.form.get("next"))
    return redirect(pages.home_of(user.role) if target == "/" else target)


@blueprint.route("/logout", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def logout() -> Response:
    """End the session and return to the sign-in page."""
    user = current_user()
    if user is not None:
        audit.record(audit.LOGOUT, None, engine=_engine(), user=user)
    session.clear()
    lang = request.values.get("lang")
    response = redirect("/login?" + urlencode({"out": 1} | ({"lang": lang} if lang else {})))
    response.delete_cookie(CSRF_COOKIE)
    return response
