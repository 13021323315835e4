"""The page's prose: Markdown templates in `templates/`, filled with the tables and verdicts code computes.

Sections compute numbers, tables and short verdict lines; what they say around them lives in
`templates/<name>.md`, where `${field}` marks a computed part (`string.Template`; `$$` is a
literal dollar). A template that names a field no code fills, or the reverse, fails at once.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"


def fill(name: str, **fields: object) -> str:
    """`templates/<name>.md` with every `${field}` replaced (its final newline is the page's to add)."""
    template = Template((TEMPLATES / f"{name}.md").read_text())
    unused = set(fields) - set(template.get_identifiers())
    if unused:
        raise KeyError(f"template {name}.md has no field {sorted(unused)}")
    return template.substitute({key: str(value) for key, value in fields.items()}).removesuffix("\n")
