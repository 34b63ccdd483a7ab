"""The Zendesk app package of the agent sidebar: manifest, translations, logos, and the zip.

A *server-side* app (Zendesk Apps framework v2): the package holds no page of its own; its
`ticket_sidebar` location points at cxlayer (`{{setting.service_url}}/sidebar/`), and
`signedUrls: true` makes Zendesk load that URL with a POST carrying a signed JWT (form field
`token`), which `sidebar.auth` verifies.

Zendesk's requirements the package is checked against (`package_problems`), from the
developer documentation ("Manifest reference", "Uploading and installing a private app",
"Building a server-side app"):

- `manifest.json` at the root, with `name`, `author` (`name`, `email`), `defaultLocale`,
  `location`, `version` and `frameworkVersion` "2.0";
- `translations/<defaultLocale>.json` with the app's `name`, `short_description`,
  `long_description`, `installation_instructions` and a label for each parameter;
- `assets/logo.png` 320×320 and `assets/logo-small.png` 128×128 (PNG);
- a location given as a URL (server-side) needs no `assets/iframe.html`;
- the zip of a private app is at most 2 MB.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

APP_NAME = "cxlayer"
APP_VERSION = "1.0.0"
FRAMEWORK_VERSION = "2.0"
DEFAULT_LOCALE = "en"
LOCATION_PATH = "/sidebar/"  # the first page, under the service URL setting
SERVICE_URL_SETTING = "service_url"
MAX_PRIVATE_APP_BYTES = (
    2 * 1024 * 1024
)  # "The file size limit of the zip file for a private app is 2 MB."
LOGO_SIZES = {"assets/logo.png": 320, "assets/logo-small.png": 128}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUIRED_TRANSLATIONS = (
    "name",
    "short_description",
    "long_description",
    "installation_instructions",
)

# Mediaocean-ish colours: a dark blue square with a light band, enough for an icon.
_BACKGROUND = (0x1F, 0x3A, 0x5F)
_BAND = (0xE8, 0xF0, 0xF8)


def manifest() -> dict[str, Any]:
    """The app's manifest.json (a dict; `build_package` writes it)."""
    return {
        "name": APP_NAME,
        "author": {
            "name": "Mediaocean Customer Experience",
            "email": "cx-tools@mediaocean.com",
            "url": "https://www.mediaocean.com",
        },
        "defaultLocale": DEFAULT_LOCALE,
        "private": True,
        "location": {
            "support": {
                "ticket_sidebar": {
                    "url": "{{setting.%s}}%s" % (SERVICE_URL_SETTING, LOCATION_PATH),  # noqa: UP031
                    "flexible": True,
                }
            }
        },
        "version": APP_VERSION,
        "frameworkVersion": FRAMEWORK_VERSION,
        "signedUrls": True,
        "parameters": [
            {"name": SERVICE_URL_SETTING, "type": "url", "required": True},
        ],
    }


def translations() -> dict[str, Any]:
    """translations/en.json: what admins read when they install the app."""
    return {
        "app": {
            "name": "cxlayer",
            "short_description": (
                "The support guide's rules on the ticket: status as the requester sees it, "
                "resolution type, auto-solve dates and possible duplicates."
            ),
            "long_description": (
                "cxlayer shows agents, on each ticket, what Mediaocean's Customer Experience "
                "support guide says before they act: the status the requester sees and what it "
                "means, the resolution type's definition and whether it needs the client's "
                "data-maintenance approval, when the requester will be reminded and the ticket "
                "auto-solved on the team's calendar (with a one-click pause), possible duplicate "
                "tickets with their evidence, and everything cxlayer did on the ticket."
            ),
            "installation_instructions": (
                "Set the cxlayer service URL (for example https://cxlayer.example.com). The app "
                "is server-side with signed URLs: cxlayer verifies every load with this app's "
                "public key."
            ),
            "parameters": {
                SERVICE_URL_SETTING: {
                    "label": "cxlayer service URL",
                    "helpText": "Where Zendesk reaches cxlayer, without a trailing slash.",
                }
            },
        }
    }


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def logo_png(size: int) -> bytes:
    """A square RGB PNG of `size` pixels (a dark square with a light band): no image library."""
    band_top, band_bottom = size * 2 // 5, size * 3 // 5
    rows = []
    for y in range(size):
        colour = _BAND if band_top <= y < band_bottom else _BACKGROUND
        rows.append(b"\x00" + bytes(colour) * size)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, from its IHDR chunk; None when it is not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def package_files() -> dict[str, bytes]:
    """Every file of the package, by its path in the zip."""
    files = {
        "manifest.json": json.dumps(manifest(), indent=2).encode() + b"\n",
        f"translations/{DEFAULT_LOCALE}.json": json.dumps(translations(), indent=2).encode()
        + b"\n",
    }
    for path, size in LOGO_SIZES.items():
        files[path] = logo_png(size)
    return files


def build_package() -> bytes:
    """The zip Zendesk accepts (Upload App Package / Admin Center "Upload private app").

    Deterministic: the same code builds the same bytes, so an unchanged app is recognised.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(package_files().items()):
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _manifest_problems(data: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in ("name", "author", "defaultLocale", "location", "version", "frameworkVersion"):
        if key not in data:
            problems.append(f"manifest.json: missing {key!r}")
    author = data.get("author") or {}
    for key in ("name", "email"):
        if not isinstance(author, Mapping) or not author.get(key):
            problems.append(f"manifest.json: author needs {key!r}")
    if data.get("frameworkVersion") != FRAMEWORK_VERSION:
        problems.append("manifest.json: frameworkVersion must be '2.0'")
    support = (data.get("location") or {}).get("support") or {}
    sidebar = support.get("ticket_sidebar")
    url = sidebar.get("url") if isinstance(sidebar, Mapping) else sidebar
    if not isinstance(url, str) or not url.startswith(("http", "{{setting.")):
        problems.append("manifest.json: location.support.ticket_sidebar needs a server URL")
    if data.get("signedUrls") is not True:
        problems.append("manifest.json: signedUrls must be true (cxlayer verifies every load)")
    names = {p.get("name") for p in data.get("parameters") or [] if isinstance(p, Mapping)}
    for placeholder in _setting_placeholders(str(url)):
        if placeholder not in names:
            problems.append(f"manifest.json: {{{{setting.{placeholder}}}}} is not a parameter")
    return problems


def _setting_placeholders(text: str) -> list[str]:
    found = []
    rest = text
    while "{{setting." in rest:
        _, _, rest = rest.partition("{{setting.")
        name, _, rest = rest.partition("}}")
        found.append(name)
    return found


def package_problems(zipped: bytes) -> list[str]:
    """Everything in `zipped` that Zendesk's documented requirements refuse; [] when none."""
    problems: list[str] = []
    if len(zipped) > MAX_PRIVATE_APP_BYTES:
        problems.append(f"package is {len(zipped)} bytes; a private app is at most 2 MB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(zipped))
    except zipfile.BadZipFile:
        return [*problems, "not a zip file"]
    names = set(archive.namelist())
    if "manifest.json" not in names:
        return [*problems, "manifest.json missing at the root of the zip"]
    try:
        data = json.loads(archive.read("manifest.json"))
    except ValueError as exc:
        return [*problems, f"manifest.json is not JSON: {exc}"]
    problems += _manifest_problems(data)
    locale = data.get("defaultLocale", DEFAULT_LOCALE)
    path = f"translations/{locale}.json"
    if path not in names:
        problems.append(f"{path} missing (the default locale's translations)")
    else:
        app = json.loads(archive.read(path)).get("app") or {}
        problems += [
            f"{path}: missing app.{key}" for key in REQUIRED_TRANSLATIONS if not app.get(key)
        ]
        labels = app.get("parameters") or {}
        for parameter in data.get("parameters") or []:
            if not (labels.get(parameter.get("name")) or {}).get("label"):
                problems.append(f"{path}: parameter {parameter.get('name')!r} has no label")
    for logo, size in LOGO_SIZES.items():
        if logo not in names:
            problems.append(f"{logo} missing")
        elif png_size(archive.read(logo)) != (size, size):
            problems.append(f"{logo} must be a {size}x{size} PNG")
    return problems
