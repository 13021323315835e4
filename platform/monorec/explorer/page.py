"""The explorer as one HTML document: plain HTML, CSS and JavaScript shipped in the package.

No build step, no CDN, no network: the page works offline and from a file. Live, it is served
at `/` and fetches everything with the token the user types (kept in sessionStorage, never in a
URL); static, the neuron data is embedded and the user panel is hidden.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from monorec.storage import atomic_write

FILENAME = "explorer.html"


def _asset(name: str) -> str:
    return resources.files("monorec.explorer").joinpath("static", name).read_text(encoding="utf-8")


def explorer_html(payload: dict | None = None) -> str:
    """The page; `payload` (`explorer_payload`) embedded makes it a self-contained static file."""
    # Every "<" escaped: no item name can end the data block or put the HTML parser in a script state.
    data = "null" if payload is None else json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")
    return (
        _asset("explorer.html")
        .replace("/*STYLE*/", _asset("explorer.css"))
        .replace("/*SCRIPT*/", _asset("explorer.js"))
        .replace("/*DATA*/null", data)
    )


def write_explorer(folder: Path, payload: dict) -> Path:
    """`folder`/explorer.html: the static page of one SAE run (logged to MLflow with its report)."""
    path = folder / FILENAME
    atomic_write(path, lambda tmp: tmp.write_text(explorer_html(payload), encoding="utf-8"))
    return path
