"""MkDocs hook: the pages that are generated at build time, never hand-copied.

- ``reference/<command>.md``: one page per ``lamina`` command, built from the command line
  itself: the typer app that ``lamina.cli.options.build_command`` makes from each workflow's
  ``Config``. The usage line, the flags and the help text (its ``[default: ...]`` included) are
  the exact records ``lamina X --help`` prints (click's ``get_help_record``); the settings key
  and the type come from the ``Config`` field. So the reference and ``--help`` cannot disagree.
- ``reference/index.md`` (every command, one line each) and ``reference/registries.md`` (what
  ``lamina strategies | importance | losses | methods | tasks`` print), and their nav entries.
- ``benchmarks/``: ``benchmarks/README.md`` (the measured results of every reproduction, with
  its commands) and every file under ``benchmarks/`` it links to, transitively, at the same
  relative paths, so its links (tables, plots, ``time.txt``) work in the site. A link that
  points outside ``benchmarks/`` or at nothing becomes plain text with the path in code, so
  ``mkdocs build --strict`` does not depend on links the results record may gain.
- ``changelog.md``: ``CHANGELOG.md``.

The tree documented is the one this file sits in: its ``src/`` goes first on ``sys.path``.
"""

from __future__ import annotations

import posixpath
import re
import sys
import typing
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

GENERATED_NOTE = "<!-- generated at build time by docs/hooks/generate.py; do not edit -->"
REGISTRIES = ("strategies", "importance", "losses", "methods", "tasks")


# ---------------------------------------------------------------- the command line, as --help sees it


def _click_group():
    import typer.main

    from lamina.cli import app

    return typer.main.get_command(app)


def _context(command, name, parent=None):
    return command.context_class(command, info_name=name, parent=parent)


def commands() -> list[tuple[str, object, object]]:
    """(path such as "prune" or "models list", click command, its context), in `lamina --help`'s order."""
    group = _click_group()
    root = _context(group, "lamina")
    out = []
    for name, command in group.commands.items():
        ctx = _context(command, name, root)
        if hasattr(command, "commands"):  # a sub-group (lamina models)
            for sub_name, sub in command.commands.items():
                out.append((f"{name} {sub_name}", sub, _context(sub, sub_name, ctx)))
        else:
            out.append((name, command, ctx))
    return out


def slug(path: str) -> str:
    return path.split()[0]


def _type_text(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin in (typing.Union, __import__("types").UnionType):
        parts = [_type_text(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if origin in (list, tuple, set):
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict:
        return "NAME=VALUE map"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


_CODE = re.compile(r"(`[^`]*`)")


def _md(text: str) -> str:
    """Plain help text as Markdown: emphasis characters and angle brackets escaped outside code spans."""
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = (
            parts[i]
            .replace("\\", "\\\\")
            .replace("<", "&lt;")
            .replace("*", r"\*")
            .replace("_", r"\_")
            .replace("[", r"\[")
            .replace("]", r"\]")
        )
    return "".join(parts)


def _cell(text: str) -> str:
    return _md(" ".join(text.split())).replace("|", r"\|")


_DEFAULT = re.compile(r"\s*\[default: (.*)\]\s*$")


def _split_default(help_text: str) -> tuple[str, str | None]:
    m = _DEFAULT.search(help_text)
    return (help_text[: m.start()], m.group(1)) if m else (help_text, None)


def command_rows(command, ctx):
    """(arguments, options) of one command: dicts with flag, metavar, help and default, as --help prints them,
    and the parameter's name (the settings key of a workflow's Config)."""
    arguments, options = [], []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None or getattr(param, "hidden", False) or param.name == "help":
            continue
        left, help_text = record
        flag, _, metavar = left.partition(" <")
        help_text, default = _split_default(help_text)
        row = {
            "name": param.name,
            "flag": flag,
            "metavar": metavar.rstrip(">") if metavar else "",
            "help": help_text.strip(),
            "default": default,
        }
        (arguments if type(param).__name__.endswith("Argument") else options).append(row)
    return arguments, options


def reference_page(path: str, command, ctx) -> str:
    from lamina.workflows import WORKFLOWS

    workflow = WORKFLOWS.entries.get(path)
    Config = workflow.Config if workflow is not None else None
    fields = Config.model_fields if Config is not None else {}
    lines = [
        f"# lamina {path}",
        "",
        GENERATED_NOTE,
        "",
        _md(command.help or "").strip(),
        "",
        "```text",
        command.get_usage(ctx).replace("Usage: ", "", 1),
        "```",
        "",
    ]
    if Config is not None:
        lines += [
            f"Settings model: `{Config.__module__}.{Config.__name__}`. Every option is also a key of "
            f"`--config FILE.yaml`, of a recipe step's `args` and of `lamina.{_api_name(path)}(...)` "
            "(the *key* column); flags typed on the command line override the file.",
            "",
        ]
    arguments, options = command_rows(command, ctx)

    def table(title, rows, first):
        if not rows:
            return []
        out = [f"## {title}", "", f"| {first} | key | type | default | description |", "|---|---|---|---|---|"]
        for r in rows:
            field = fields.get(r["name"])
            if field is not None:
                kind = _type_text(field.annotation)
                key = f"`{r['name']}`"
            else:
                kind, key = (r["metavar"] or "flag"), ""
            if "/" in r["flag"] and field is not None and kind == "bool":
                kind = "flag"
            flag = r["flag"] if first == "flag" else r["flag"].upper()
            default = r["default"]
            if default is None:
                default = "required" if field is not None and field.is_required() and first == "flag" else ""
            shown = "*required*" if default == "required" else (f"`{default}`" if default else "")
            out.append(f"| `{flag}` | {key} | {_cell(kind)} | {shown} | {_cell(r['help'])} |")
        return out + [""]

    lines += table("Arguments", arguments, "argument")
    lines += table("Options", options, "flag")
    renamed = Config.renamed_settings() if Config is not None and hasattr(Config, "renamed_settings") else {}
    if renamed:
        from lamina.config import flag_name

        lines += [
            "## Renamed settings",
            "",
            "Refused with one line naming the new name (from a flag, a file or a recipe).",
            "",
            "| old | new |",
            "|---|---|",
        ]
        lines += [f"| `{flag_name(old)}` | `{flag_name(new)}` |" for old, new in renamed.items()]
        lines.append("")
    return "\n".join(lines)


def _api_name(path: str) -> str:
    from lamina import api

    return api.python_name(path)


def reference_index(rows) -> str:
    lines = [
        "# Command reference",
        "",
        GENERATED_NOTE,
        "",
        "One page per command, generated at build time from the command line itself (each workflow's "
        "settings model, through the same code that makes `lamina X --help`), so a page cannot disagree "
        "with `--help`. Every command also takes `--config FILE.yaml` with its settings as keys.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for path, command, _ in rows:
        summary = (command.help or "").strip().split("\n\n")[0]
        summary = " ".join(summary.split())
        lines.append(f"| [`lamina {path}`]({slug(path)}.md) | {_cell(summary)} |")
    lines += [
        "",
        "What is registered (strategies, losses, methods, tasks, importance criteria): [registries](registries.md).",
    ]
    return "\n".join(lines) + "\n"


def registries_page() -> str:
    from typer.testing import CliRunner

    from lamina.cli import app

    lines = [
        "# Registries",
        "",
        GENERATED_NOTE,
        "",
        "What this version has registered, exactly as the listing commands print it.",
        "",
    ]
    for name in REGISTRIES:
        result = CliRunner().invoke(app, [name])
        if result.exit_code != 0:
            raise RuntimeError(f"lamina {name} failed: {result.output}")
        lines += [f"## `lamina {name}`", "", "```text", result.output.rstrip(), "```", ""]
    return "\n".join(lines)


def command_pages() -> dict[str, str]:
    rows = commands()
    pages: dict[str, list[str]] = {}
    for path, command, ctx in rows:
        pages.setdefault(slug(path), []).append(reference_page(path, command, ctx))
    out = {f"reference/{name}.md": _join_group(name, texts) for name, texts in pages.items()}
    out["reference/index.md"] = reference_index(rows)
    out["reference/registries.md"] = registries_page()
    return out


def _join_group(name: str, texts: list[str]) -> str:
    if len(texts) == 1:
        return texts[0] + "\n"
    # a sub-group: one page, its sub-commands as sections (headings one level down)
    body = [re.sub(r"^(#+) ", r"#\1 ", t, flags=re.M) for t in texts]
    return f"# lamina {name}\n\n" + "\n".join(body) + "\n"


# ---------------------------------------------------------------- benchmarks/ and the changelog

_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _relative(target: str) -> bool:
    return not (re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")))


def mirror(entry: str, allowed: str) -> dict[str, str | Path]:
    """``entry`` (a repo-relative Markdown file) and every file under ``allowed`` it links to, transitively:
    {repo-relative path: content}. Links that cannot be followed are turned into text."""
    out: dict[str, str | Path] = {}
    todo = [entry]
    while todo:
        rel = todo.pop()
        if rel in out:
            continue
        path = ROOT / rel
        if not rel.endswith(".md"):
            out[rel] = path  # copied as it is (a plot, a text file)
            continue
        base = posixpath.dirname(rel)

        def follow(m, base=base):
            bang, text, target = m.groups()
            if not _relative(target):
                return m.group(0)
            file_part = target.split("#")[0]
            resolved = posixpath.normpath(posixpath.join(base, file_part))
            if resolved.startswith(allowed + "/") and (ROOT / resolved).is_file():
                todo.append(resolved)
                return m.group(0)
            return f"{text} (`{target}`)" if not bang else f"`{target}`"

        out[rel] = _outside_code(path.read_text(encoding="utf-8"), lambda line: _LINK.sub(follow, line))
    return out


def _outside_code(text: str, fn) -> str:
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        lines.append(line if fenced else fn(line))
    return "\n".join(lines)


def _with_note(text: str, note: str) -> str:
    """``note`` after the page's first heading (outside code), so the title stays the heading."""
    lines, fenced = text.split("\n"), False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("# "):
            return "\n".join(lines[: i + 1] + ["", note] + lines[i + 1 :])
    return note + "\n\n" + text


def benchmark_files() -> dict[str, str | Path]:
    files = mirror("benchmarks/README.md", "benchmarks")
    docs = {}
    for rel, content in files.items():
        name = "benchmarks/index.md" if rel == "benchmarks/README.md" else rel
        if rel == "benchmarks/README.md":
            content = _with_note(
                content,
                GENERATED_NOTE.replace("do not edit", "edit benchmarks/README.md")
                + '\n\n!!! note "The results record"\n    This page is `benchmarks/README.md`, '
                "the project's record of every measurement, included as it is in the "
                "repository: the commands are run from `benchmarks/` or the repository root "
                "as each section says.",
            )
        docs[name] = content
    return docs


def changelog_page() -> str:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return _with_note(text, GENERATED_NOTE.replace("do not edit", "edit CHANGELOG.md"))


# ---------------------------------------------------------------- mkdocs events


def on_config(config):
    """The per-command reference pages join the nav after ``reference/index.md``."""
    names = list(dict.fromkeys(slug(path) for path, _, _ in commands()))

    def walk(items):
        for item in items or []:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                if "reference/index.md" in [v if isinstance(v, str) else next(iter(v.values())) for v in value]:
                    at = next(
                        i
                        for i, v in enumerate(value)
                        if (v if isinstance(v, str) else next(iter(v.values()))) == "reference/index.md"
                    )
                    value[at + 1 : at + 1] = [{f"lamina {n}": f"reference/{n}.md"} for n in names]
                    return True
                if walk(value):
                    return True
        return False

    walk(config["nav"])
    return config


def on_files(files, config):
    generated = {**command_pages(), **benchmark_files(), "changelog.md": changelog_page()}
    for src_uri, content in generated.items():
        if files.get_file_from_path(src_uri) is not None:
            raise RuntimeError(f"{src_uri} is generated at build time: remove docs/{src_uri}")
        if isinstance(content, Path):
            files.append(File.generated(config, src_uri, abs_src_path=str(content)))
        else:
            files.append(File.generated(config, src_uri, content=content))
    return files
