"""The ZAF SDK for the sidebar page, served from the pinned npm package.

`zendesk_app_framework_sdk` (sidebar/package.json, locked in package-lock.json, installed by
`npm ci --prefix sidebar`) ships CommonJS sources (`lib/index.js`, `lib/client.js`,
`lib/utils.js`, `lib/vendor/native-promise-only.js`) and no browser build. `zaf_sdk_bundle`
wraps those files, unchanged, in a minimal module loader that exposes `window.ZAFClient`, as
the SDK's own browser build does.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parent / "node_modules" / "zendesk_app_framework_sdk"
SDK_MODULES = {
    "./index": "lib/index.js",
    "./client": "lib/client.js",
    "./utils": "lib/utils.js",
    "./vendor/native-promise-only": "lib/vendor/native-promise-only.js",
}


class SdkMissing(RuntimeError):
    """node_modules lacks the SDK: run `npm ci --prefix sidebar` (make run does)."""


@cache
def zaf_sdk_bundle(sdk_dir: Path = SDK_DIR) -> str:
    """The SDK as one browser script defining `window.ZAFClient`."""
    parts = []
    for name, relative in SDK_MODULES.items():
        path = sdk_dir / relative
        if not path.is_file():
            raise SdkMissing(f"{path} is missing: run `npm ci --prefix sidebar`")
        source = path.read_text(encoding="utf-8")
        parts.append(
            f"defs[{json.dumps(name)}] = function (module, exports, require) {{\n{source}\n}};"
        )
    version = json.loads((sdk_dir / "package.json").read_text())["version"]
    return (
        f"/* zendesk_app_framework_sdk {version} (Apache-2.0), CommonJS wrapped by cxlayer */\n"
        "(function () {\n  var defs = {}, cache = {};\n"
        + "\n".join(parts)
        + "\n  function req(name) {\n"
        "    var key = name.replace(/^\\.\\.?\\/(?:lib\\/)?/, './').replace(/\\.js$/, '');\n"
        "    if (cache[key]) return cache[key].exports;\n"
        "    var module = cache[key] = {exports: {}};\n"
        "    defs[key](module, module.exports, req);\n"
        "    return module.exports;\n  }\n"
        "  window.ZAFClient = req('./index');\n})();\n"
    )
