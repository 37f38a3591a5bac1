"""Reference pages generated from the code at ``mkdocs build`` time.

A page asks for a generated section with a marker line; the hook replaces it:

``<!-- reference:settings -->``  every field of ``ivrimeet.settings.Settings``
``<!-- reference:errors -->``    every class of ``ivrimeet.errors`` with its code and what to do
``<!-- reference:openapi -->``   every route of the API's OpenAPI schema
``<!-- reference:cli -->``       every ``ivrimeet`` command with its options

The text comes from the code itself (field metadata, docstrings, the schema, the
Typer app), so a renamed setting or a new error code cannot go undocumented;
``tests/docs/test_reference_pages.py`` fails when one has no description.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tempfile
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
WHAT_TO_DO = "What to do:"


def _cell(text: str) -> str:
    """Text that fits in one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


# --- settings ----------------------------------------------------------------------


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value >= MIB and value % MIB == 0:
        size = f"{value // 1024 // MIB} GiB" if value % (1024 * MIB) == 0 else f"{value // MIB} MiB"
        return f"{size} (`{value}`)"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def settings_rows() -> list[tuple[str, str, str, bool]]:
    """``(VARIABLE, default, description, is_secret)`` for every field of ``Settings``."""
    from ivrimeet.settings import Secret, Settings

    rows = []
    for field in dataclasses.fields(Settings):
        secret = "Secret" in str(field.type) or isinstance(field.default, Secret)
        rows.append(
            (field.name.upper(), _default(field.default), field.metadata["description"], secret)
        )
    return rows


def settings_markdown() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, default, description, secret in settings_rows():
        meaning = _cell(description) + (" **(secret)**" if secret else "")
        lines.append(f"| `{name}` | {default} | {meaning} |")
    return "\n".join(lines)


# --- errors ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ErrorDoc:
    name: str
    depth: int
    code: str
    http_status: int
    exit_code: int
    when: str
    what_to_do: str


def _error_classes() -> list[tuple[type[Any], int]]:
    """The error tree, depth first, in the order the classes are defined."""
    import ivrimeet.errors as errors

    public = [getattr(errors, name) for name in errors.__all__]
    defined = [v for v in vars(errors).values() if isinstance(v, type)]
    order = {cls: defined.index(cls) for cls in public}

    def walk(cls: type[Any], depth: int) -> list[tuple[type[Any], int]]:
        children = sorted((c for c in cls.__subclasses__() if c in public), key=lambda c: order[c])
        out = [(cls, depth)]
        for child in children:
            out += walk(child, depth + 1)
        return out

    return walk(errors.IvrimeetError, 0)


def error_docs() -> list[ErrorDoc]:
    """One entry per public error class; ``what_to_do`` is '' when its docstring has none."""
    docs = []
    for cls, depth in _error_classes():
        text = inspect.cleandoc(cls.__doc__ or "")
        when, _, rest = text.partition("\n\n")
        what = rest.split(WHAT_TO_DO, 1)[1] if WHAT_TO_DO in rest else ""
        docs.append(
            ErrorDoc(
                name=cls.__name__,
                depth=depth,
                code=cls.code,
                http_status=cls.http_status,
                exit_code=cls.exit_code,
                when=" ".join(when.split()),
                what_to_do=" ".join(what.split()),
            )
        )
    return docs


def errors_markdown() -> str:
    lines = []
    for doc in error_docs():
        heading = "#" * min(2 + doc.depth, 4)
        lines += [
            f"{heading} `{doc.code}`",
            "",
            f"`{doc.name}` · HTTP {doc.http_status} · exit code {doc.exit_code}",
            "",
            doc.when,
            "",
        ]
        if doc.what_to_do:
            lines += [f"**What to do:** {doc.what_to_do}", ""]
    return "\n".join(lines)


# --- the HTTP API ------------------------------------------------------------------


def openapi_schema() -> dict[str, Any]:
    """The API's OpenAPI schema, from an app built on a throw-away local store."""
    from ivrimeet.api.app import create_app
    from ivrimeet.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(env_file=None, ivrimeet_data_dir=Path(data_dir))
        app = create_app(settings)
        try:
            return app.openapi()
        finally:
            app.state.api.services.close()


def _schema_type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_schema_type(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    return str(schema.get("type", "any"))


def openapi_markdown() -> str:
    schema = openapi_schema()
    lines = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            lines += [f"### `{method.upper()} {path}`", "", _cell(op.get("summary", "")), ""]
            if op.get("description"):
                lines += [op["description"].strip(), ""]
            if path.startswith("/api/"):
                lines += ["Needs `Authorization: Bearer $IVRIMEET_API_TOKEN`.", ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | required |", "| --- | --- | --- | --- |"]
                for p in params:
                    required = "yes" if p.get("required") else "no"
                    kind = _schema_type(p.get("schema", {}))
                    lines.append(f"| `{p['name']}` | {p['in']} | {kind} | {required} |")
                lines.append("")
            body = op.get("requestBody", {}).get("content", {})
            if body:
                lines += ["Body: " + ", ".join(f"`{t}`" for t in body), ""]
            responses = ", ".join(
                f"{status} {_cell(r.get('description', ''))}"
                for status, r in op.get("responses", {}).items()
            )
            lines += [f"Answers: {responses}.", ""]
    return "\n".join(lines)


# --- the command line --------------------------------------------------------------


def _commands(command: Any, prefix: str) -> list[tuple[str, Any]]:
    import typer

    out = [(prefix, command)]
    if hasattr(command, "list_commands"):  # a group (Typer vendors its own click)
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            out += _commands(command.get_command(ctx, name), f"{prefix} {name}")
    return out


def cli_markdown() -> str:
    import typer

    from ivrimeet.cli.main import build_app

    root = typer.main.get_command(build_app())
    lines = []
    for path, command in _commands(root, "ivrimeet"):
        ctx = typer.Context(command, info_name=path)
        usage = command.collect_usage_pieces(ctx)
        lines += [f"### `{path}`", "", _cell(command.help or ""), ""]
        lines += ["```", f"{path} {' '.join(usage)}".rstrip(), "```", ""]
        rows = [p.get_help_record(ctx) for p in command.get_params(ctx)]
        rows = [r for r in rows if r is not None]
        if rows:
            lines += ["| option | meaning |", "| --- | --- |"]
            lines += [f"| `{_cell(opt)}` | {_cell(text)} |" for opt, text in rows]
            lines.append("")
    return "\n".join(lines)


# --- the mkdocs hook ---------------------------------------------------------------

GENERATORS = {
    "settings": settings_markdown,
    "errors": errors_markdown,
    "openapi": openapi_markdown,
    "cli": cli_markdown,
}
MARKER = re.compile(r"^<!-- reference:(\w+) -->$", re.M)


def render(markdown: str) -> str:
    """``markdown`` with every reference marker replaced by its generated section."""
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)


def on_page_markdown(markdown: str, **_kwargs: Any) -> str:
    return render(markdown)
