# ruff: noqa: B008 - FastAPI declares parameters with Depends()/File() defaults
"""The FastAPI application: pages (Jinja2, autoescaped) and a REST API that mirrors them (OpenAPI at
/openapi.json). Every request needs a token: ``Authorization: Bearer <token>`` for the API, or the session
cookie set by the login form for pages; forms carry a CSRF token bound to the session. Uploaded images are
stored under their SHA-256 in the server's data directory; no path taken from a request is opened, except a
server path an admin registers, which must lie under a root given with ``--register-root``."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import __version__
from ..store import SEVERITIES, Store, Token
from .scanner import Scanner

COOKIE = "veracity_session"
CSS = (Path(__file__).parent / "templates" / "app.css").read_text(encoding="utf-8")
MAX_ATTESTATION = 4 << 20
"""Largest attestation accepted (an envelope lists every finding's fingerprint)."""
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


class Settings:
    def __init__(self, *, data_dir: Path, max_upload: int = 512 << 20, register_roots: tuple[Path, ...] = (),
                 secret: bytes | None = None, workers: int = 1, cache_path: Path | None = None):
        self.data_dir = data_dir
        self.blobs = data_dir / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.max_upload = max_upload
        self.register_roots = tuple(p.resolve() for p in register_roots)
        self.secret = secret or _secret(data_dir)
        self.workers = workers
        self.cache_path = cache_path


def _secret(data_dir: Path) -> bytes:
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _display_name(name: str | None) -> str:
    """A client's file name, for display only: last component, printable, bounded."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:200].strip()
    return base or "upload.bin"


def _clean(value: str | None, n: int = 200) -> str | None:
    value = (value or "").strip()
    return "".join(ch for ch in value if ch.isprintable())[:n] or None


def create_app(store: Store, settings: Settings) -> FastAPI:
    scanner = Scanner(store, workers=settings.workers, cache_path=settings.cache_path,
                      workdir=settings.data_dir / "work")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        scanner.close()

    app = FastAPI(title="veracity", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Store of veracity scans: products, versions, findings, search, data flow, diff.")
    env = Environment(loader=PackageLoader("veracity.web", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    app.state.store = store
    app.state.scanner = scanner
    app.state.settings = settings

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    # -- authentication -------------------------------------------------------------------------------------
    def token_of(request: Request) -> tuple[str | None, bool]:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        return request.cookies.get(COOKIE), True

    def csrf_for(token: str) -> str:
        return hmac.new(settings.secret, token.encode(), hashlib.sha256).hexdigest()[:40]

    class Principal:
        def __init__(self, token: Token, raw: str, cookie: bool):
            self.token = token
            self.csrf = csrf_for(raw)
            self.cookie = cookie

    def principal(request: Request) -> Principal:
        raw, cookie = token_of(request)
        tok = store.check_token(raw)
        if tok is None or raw is None:
            if request.url.path.startswith("/api/"):
                raise HTTPException(401, "a valid token is required (Authorization: Bearer ...)",
                                    headers={"WWW-Authenticate": "Bearer"})
            raise HTTPException(303, headers={"Location": "/login"})
        return Principal(tok, raw, cookie)

    def check_csrf(who: Principal, value: str | None) -> None:
        if who.cookie and not (value and hmac.compare_digest(value, who.csrf)):
            raise HTTPException(403, "CSRF token missing or wrong")

    def page(name: str, who: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(name).render(who=who, csrf=who.csrf if who else "", tool_version=__version__,
                                             severities=SEVERITIES, **ctx)
        return HTMLResponse(html, status_code=status)

    # -- upload / register helpers ------------------------------------------------------------------------------
    async def receive(upload: UploadFile) -> tuple[Path, str, int]:
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(prefix="upload-", dir=settings.blobs)
        try:
            with os.fdopen(fd, "wb") as fh:
                while chunk := await upload.read(1 << 20):
                    size += len(chunk)
                    if size > settings.max_upload:
                        raise HTTPException(413, f"upload larger than {settings.max_upload} bytes")
                    h.update(chunk)
                    fh.write(chunk)
            if size == 0:
                raise HTTPException(400, "empty upload")
            sha = h.hexdigest()
            dest = settings.blobs / sha
            if dest.exists():
                os.unlink(tmp)
            else:
                os.replace(tmp, dest)
            return dest, sha, size
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def start(path: Path, sha: str, name: str, size: int, meta: dict[str, Any]) -> tuple[int, bool]:
        from ..report import rules_version

        scan_id, queued = store.enqueue(sha256=sha, name=name, rules_version=rules_version(),
                                        tool_version=__version__, size=size, blob=str(path), **meta)
        if queued:
            scanner.submit(scan_id, path, meta, name)
        return scan_id, queued

    def registered(path_text: str) -> Path:
        if not settings.register_roots:
            raise HTTPException(403, "registering server paths is disabled (serve --register-root DIR)")
        path = Path(path_text).resolve()
        if not any(path.is_relative_to(root) for root in settings.register_roots) or not path.is_file():
            raise HTTPException(400, "not a file under a registered root")
        return path

    def hash_file(path: Path) -> tuple[str, int]:
        from ..report import file_digest

        return file_digest(path)

    def meta_of(vendor: str | None, product: str | None, version: str | None) -> dict[str, Any]:
        return {k: v for k, v in (("vendor", _clean(vendor)), ("product", _clean(product)),
                                  ("version", _clean(version))) if v}

    def scan_or_404(scan_id: int):
        scan = store.scan(scan_id)
        if scan is None:
            raise HTTPException(404, "no such scan")
        return scan

    # -- pages ----------------------------------------------------------------------------------------------
    @app.get("/static/app.css", include_in_schema=False)
    def css() -> Response:
        return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> HTMLResponse:
        return page("login.html", None, error=None)

    @app.post("/login", include_in_schema=False)
    def login(token: str = Form(...)) -> Response:
        if store.check_token(token.strip()) is None:
            return page("login.html", None, status=403, error="unknown token")
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", secure=False, max_age=30 * 86400)
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(csrf: str = Form(""), who: Principal = Depends(principal)) -> Response:
        check_csrf(who, csrf)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(who: Principal = Depends(principal)) -> HTMLResponse:
        return page("products.html", who, products=store.products(), scans=store.scans(limit=10))

    @app.get("/product", response_class=HTMLResponse, include_in_schema=False)
    def product_page(product: str, vendor: str = "", who: Principal = Depends(principal)) -> HTMLResponse:
        rows = store.targets_with_scans(vendor, product)
        return page("product.html", who, vendor=vendor, product=product, rows=rows)

    @app.get("/scans", response_class=HTMLResponse, include_in_schema=False)
    def scans_page(offset: int = Query(0, ge=0), who: Principal = Depends(principal)) -> HTMLResponse:
        return page("scans.html", who, scans=store.scans(limit=100, offset=offset), offset=offset)

    @app.get("/scans/{scan_id}", response_class=HTMLResponse, include_in_schema=False)
    def scan_page(scan_id: int, who: Principal = Depends(principal)) -> HTMLResponse:
        scan = scan_or_404(scan_id)
        findings = store.findings(scan_id) if scan.status == "done" else []
        others = [s for s in store.scans(limit=200) if s.status == "done" and s.id != scan_id]
        attestations = [attestation_json(scan_id, a) for a in store.attestations(scan_id)]
        return page("scan.html", who, scan=scan, findings=findings, others=others, attestations=attestations)

    @app.get("/scans/{scan_id}/report", include_in_schema=False)
    def report_page(scan_id: int, who: Principal = Depends(principal)) -> HTMLResponse:
        from ..render import html

        report = store.report(scan_id)
        if report is None:
            raise HTTPException(404, "no report (yet) for this scan")
        # the report page carries its own CSP (hash-pinned inline style and script) in a meta element
        return HTMLResponse(html.render(report),
                            headers={"Content-Security-Policy": "frame-ancestors 'none'; form-action 'none'; "
                                                                "base-uri 'none'; connect-src 'none'"})

    @app.get("/upload", response_class=HTMLResponse, include_in_schema=False)
    def upload_page(who: Principal = Depends(principal)) -> HTMLResponse:
        return page("upload.html", who, max_upload=settings.max_upload, can_register=bool(settings.register_roots))

    @app.post("/upload", include_in_schema=False)
    async def upload_form(file: UploadFile = File(...), csrf: str = Form(""), vendor: str = Form(""),
                          product: str = Form(""), version: str = Form(""),
                          who: Principal = Depends(principal)) -> Response:
        check_csrf(who, csrf)
        path, sha, size = await receive(file)
        scan_id, _ = start(path, sha, _display_name(file.filename), size, meta_of(vendor, product, version))
        return RedirectResponse(f"/scans/{scan_id}", status_code=303)

    @app.post("/register", include_in_schema=False)
    def register_form(path: str = Form(...), csrf: str = Form(""), vendor: str = Form(""), product: str = Form(""),
                      version: str = Form(""), who: Principal = Depends(principal)) -> Response:
        check_csrf(who, csrf)
        if not who.token.admin:
            raise HTTPException(403, "only an admin token may register server paths")
        real = registered(path)
        sha, size = hash_file(real)
        scan_id, _ = start(real, sha, real.name, size, meta_of(vendor, product, version))
        return RedirectResponse(f"/scans/{scan_id}", status_code=303)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(component: str = "", version: str = "", host: str = "",
                    who: Principal = Depends(principal)) -> HTMLResponse:
        comps = store.search_components(component.strip(), version.strip() or None) if component.strip() else None
        eps = store.search_endpoints(host) if host.strip() else None
        return page("search.html", who, component=component, version=version, host=host, comps=comps, eps=eps)

    @app.get("/dataflow", response_class=HTMLResponse, include_in_schema=False)
    def dataflow_page(who: Principal = Depends(principal)) -> HTMLResponse:
        return page("dataflow.html", who, rows=store.dataflow())

    def security_diff(a: int, b: int) -> dict[str, Any]:
        """What version ``b`` changes against ``a`` in security terms (veracity.diff over the stored reports)."""
        from ..diff.compare import compare
        from ..diff.load import Side

        scan_or_404(a)
        scan_or_404(b)
        old, new = store.report(a), store.report(b)
        if old is None or new is None:
            raise HTTPException(404, "no report (yet) for one of these scans")
        return compare(Side("OLD", Path(f"scan-{a}.json"), "report", old),
                       Side("NEW", Path(f"scan-{b}.json"), "report", new))

    @app.get("/diff", response_class=HTMLResponse, include_in_schema=False)
    def diff_page(a: int | None = None, b: int | None = None, who: Principal = Depends(principal)) -> HTMLResponse:
        scans = [s for s in store.scans(limit=500) if s.status == "done"]
        result = security = None
        if a is not None and b is not None:
            security = security_diff(a, b)
            result = store.diff(a, b)
        return page("diff.html", who, scans=scans, a=a, b=b, result=result, security=security)

    @app.get("/diff/report", include_in_schema=False)
    def diff_report_page(a: int, b: int, who: Principal = Depends(principal)) -> HTMLResponse:
        from ..diff.render import render as render_diff

        # like the report page: the page carries its own CSP (hash-pinned inline style, no script)
        return HTMLResponse(render_diff("html", security_diff(a, b)),
                            headers={"Content-Security-Policy": "frame-ancestors 'none'; form-action 'none'; "
                                                                "base-uri 'none'; connect-src 'none'"})

    # -- REST API -------------------------------------------------------------------------------------------
    def scan_json(scan) -> dict[str, Any]:
        t = scan.target
        return {
            "id": scan.id, "status": scan.status, "error": scan.error, "rules_version": scan.rules_version,
            "tool_version": scan.tool_version, "started_at": scan.started_at, "duration_s": scan.duration_s,
            "summary": scan.summary,
            "target": {"id": t.id, "name": t.name, "sha256": t.sha256, "vendor": t.vendor, "product": t.product,
                       "version": t.version, "size": t.size, "kind": t.kind},
        }

    def finding_json(f) -> dict[str, Any]:
        return {k: getattr(f, k) for k in ("rule", "category", "severity", "title", "path", "container", "line",
                                           "offset", "evidence", "backdoor_id", "standards", "fingerprint")}

    @app.get("/api/products", tags=["browse"])
    def api_products(who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        return store.products()

    @app.get("/api/products/versions", tags=["browse"])
    def api_versions(product: str, vendor: str = "", who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        out = []
        for t, scan in store.targets_with_scans(vendor, product):
            out.append({"target": {"id": t.id, "name": t.name, "sha256": t.sha256, "version": t.version},
                        "scan": scan_json(scan) if scan else None})
        return out

    @app.get("/api/scans", tags=["browse"])
    def api_scans(limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                  who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        return [scan_json(s) for s in store.scans(limit=limit, offset=offset)]

    @app.get("/api/scans/{scan_id}", tags=["browse"])
    def api_scan(scan_id: int, who: Principal = Depends(principal)) -> dict[str, Any]:
        return scan_json(scan_or_404(scan_id))

    @app.get("/api/scans/{scan_id}/findings", tags=["browse"])
    def api_findings(scan_id: int, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        scan_or_404(scan_id)
        return [finding_json(f) for f in store.findings(scan_id)]

    @app.get("/api/scans/{scan_id}/report", tags=["browse"])
    def api_report(scan_id: int, who: Principal = Depends(principal)) -> JSONResponse:
        report = store.report(scan_id)
        if report is None:
            raise HTTPException(404, "no report (yet) for this scan")
        return JSONResponse(report)

    def attestation_json(scan_id: int, att) -> dict[str, Any]:
        from ..attest import AttestError, describe_envelope

        try:
            about: dict[str, Any] = describe_envelope(json.loads(att.body))
        except (AttestError, ValueError):
            about = {}
        return {"id": att.id, "format": att.format, "created_at": att.created_at.isoformat(timespec="seconds"),
                "url": f"/api/scans/{scan_id}/attestations/{att.id}", **about}

    @app.get("/api/scans/{scan_id}/attestations", tags=["browse"])
    def api_attestations(scan_id: int, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        scan_or_404(scan_id)
        return [attestation_json(scan_id, a) for a in store.attestations(scan_id)]

    @app.get("/api/scans/{scan_id}/attestations/{att_id}", tags=["browse"])
    def api_attestation(scan_id: int, att_id: int, who: Principal = Depends(principal)) -> Response:
        att = store.attestation(scan_id, att_id)
        if att is None:
            raise HTTPException(404, "no such attestation")
        return Response(att.body, media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="scan-{scan_id}-{att_id}.intoto.json"'})

    @app.post("/api/scans/{scan_id}/attestations", tags=["scan"], status_code=201)
    async def api_add_attestation(scan_id: int, request: Request,
                                  who: Principal = Depends(principal)) -> dict[str, Any]:
        """Keep a DSSE attestation someone signed over this scan's image (a vendor's, a lab's): it must be a
        veracity scan attestation whose subject is the scanned image. The signature is checked by whoever
        downloads it, against the key they trust (``veracity verify``)."""
        from ..attest import AttestError, describe_envelope

        if who.cookie:
            raise HTTPException(403, "use a bearer token")
        scan = scan_or_404(scan_id)
        body = await request.body()
        if len(body) > MAX_ATTESTATION:
            raise HTTPException(413, f"attestation larger than {MAX_ATTESTATION} bytes")
        try:
            envelope = json.loads(body)
            about = describe_envelope(envelope)
        except (ValueError, AttestError) as exc:
            raise HTTPException(400, f"not a veracity attestation: {exc}") from None
        if scan.target.sha256 not in about["image_sha256"]:
            raise HTTPException(400, "the attestation's subject is not this scan's image")
        att_id = store.add_attestation(scan_id, json.dumps(envelope, sort_keys=True))
        return {"id": att_id, "url": f"/api/scans/{scan_id}/attestations/{att_id}", **about}

    @app.get("/api/search/components", tags=["search"])
    def api_search_components(name: str = Query(..., min_length=1), version: str | None = None,
                              who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        return store.search_components(name, version)

    @app.get("/api/search/endpoints", tags=["search"])
    def api_search_endpoints(host: str = Query(..., min_length=1),
                             who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        return store.search_endpoints(host)

    @app.get("/api/dataflow", tags=["search"])
    def api_dataflow(who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        return store.dataflow()

    @app.get("/api/diff", tags=["search"])
    def api_diff(a: int, b: int, who: Principal = Depends(principal)) -> dict[str, Any]:
        scan_or_404(a)
        scan_or_404(b)
        out: dict[str, Any] = {k: [finding_json(f) for f in v] for k, v in store.diff(a, b).items()}
        out["security"] = security_diff(a, b)
        return out

    @app.post("/api/upload", tags=["scan"], status_code=202)
    async def api_upload(file: UploadFile = File(...), vendor: str = Form(""), product: str = Form(""),
                         version: str = Form(""), csrf: str = Form(""),
                         who: Principal = Depends(principal)) -> dict[str, Any]:
        check_csrf(who, csrf)
        path, sha, size = await receive(file)
        scan_id, queued = start(path, sha, _display_name(file.filename), size, meta_of(vendor, product, version))
        return {"scan_id": scan_id, "sha256": sha, "queued": queued}

    @app.post("/api/register", tags=["scan"], status_code=202)
    def api_register(body: dict[str, str], who: Principal = Depends(principal)) -> dict[str, Any]:
        if who.cookie:
            raise HTTPException(403, "use a bearer token")
        if not who.token.admin:
            raise HTTPException(403, "only an admin token may register server paths")
        real = registered(str(body.get("path", "")))
        sha, size = hash_file(real)
        scan_id, queued = start(real, sha, real.name, size,
                                meta_of(body.get("vendor"), body.get("product"), body.get("version")))
        return {"scan_id": scan_id, "sha256": sha, "queued": queued}

    return app
