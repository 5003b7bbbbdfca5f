"""The README documents exactly what the code has (issue 16 item 9).

Every `monitor` command and option, every environment variable and every `feeds.yaml` setting the code
knows is in README.md, and the README names none the code lacks. The code is the source of truth: the
argparse parser (`monitor.cli.build_parser`), the variables the code reads, and the field lists the
config loader validates against (`monitor.config.SOURCE_FIELDS`, `SETTINGS_FIELDS`). So adding an option,
a variable or a setting without a README line fails here, and so does a README line left behind when one
is removed or renamed.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import pytest
import yaml

from monitor import config
from monitor.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
# The code whose environment variables are the service's configuration (every first-party package:
# monitor, web, db, classifiers, …), plus the one test module that reads a variable the README documents
# for people running the tests (MONITOR_TEST_CORPUS).
ENV_CODE = sorted(p.parent for p in REPO.glob("*/__init__.py")) + [REPO / "tests" / "corpus.py"]
# Options the README quotes from other tools' command lines, not from `monitor`.
EXTERNAL_OPTIONS = {
    "--immutable": "datasette serve --immutable (read-only analysis)",
    "--setting": "datasette serve --setting sql_time_limit_ms (read-only analysis)",
    "--system": "useradd --system (systemd set-up)",
    "--home": "useradd --home (systemd set-up)",
    "--now": "systemctl enable --now (systemd set-up)",
    "--file": "pg_dump --file (backups on PostgreSQL)",
    "--no-owner": "pg_restore --no-owner (restoring on PostgreSQL)",
    "--dbname": "pg_restore --dbname (restoring on PostgreSQL)",
    "--dist": "pytest --dist loadfile (how scripts/test.sh spreads test files over pytest-xdist workers)",
}
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
MONITOR_VARIABLE = re.compile(r"\bMONITOR_[A-Z0-9_]+\b")


# --- reading the README ------------------------------------------------------------------------------


def readme() -> str:
    return README.read_text(encoding="utf-8")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every ``` block: the README's example commands and configuration files."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def code_spans(text: str) -> list[str]:
    """Every `inline code` span outside the fenced blocks, with table escapes (`\\|`) undone."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", prose)]


def section(text: str, heading: str) -> str:
    """The text under the heading that starts with `heading`, up to the next heading of any level, so a
    check reads the table it means and not the subsections after it."""
    match = re.search(rf"^{re.escape(heading)}.*?$(.*?)(?=^#)", text, flags=re.S | re.M)
    assert match, f"README.md has no heading {heading!r}"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of each Markdown table row in `text` (header and separator rows included)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))])
    return rows


def commands_table(text: str) -> dict[str, str]:
    """Top-level command → the text of its row(s) in the table under "## Commands" (a row may document
    two commands, as `backup` and `restore` share one)."""
    rows: dict[str, str] = {}
    for cells in table_rows(section(text, "## Commands")):
        for name in re.findall(r"`monitor ([a-z][a-z-]*)", cells[0]):
            rows[name] = rows.get(name, "") + " " + " ".join(cells).replace("\\|", "|")
    return rows


# --- reading the parser ------------------------------------------------------------------------------


@dataclass
class Command:
    """One parser of the `monitor` tree: its path (`("users", "add")`; `()` for `monitor` itself), its
    option strings (without -h/--help, which every parser has), and its sub-commands."""

    path: tuple[str, ...]
    parser: argparse.ArgumentParser
    options: list[str] = field(default_factory=list)
    children: dict[str, Command] = field(default_factory=dict)

    def walk(self) -> list[Command]:
        return [self] + [command for child in self.children.values() for command in child.walk()]

    def action(self, option: str) -> argparse.Action | None:
        return next((a for a in self.parser._actions if option in a.option_strings), None)


def command_tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Command:
    """The parser as a tree of Commands, sub-commands included at any depth (`users add`, `audit verify`)."""
    command = Command(path, parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                command.children[name] = command_tree(child, path + (name,))
        elif not isinstance(action, argparse._HelpAction):
            command.options.extend(o for o in action.option_strings if o.startswith("--"))
    return command


def all_options(root: Command) -> set[str]:
    return {o for command in root.walk() for o in command.options} | {"--help"}


# --- commands and options: code → README -------------------------------------------------------------


def undocumented_commands(root: Command, text: str) -> list[str]:
    """Each command, sub-command and option of the parser that the README's reference does not name:
    global options in the text above the commands table, the rest in the table row of their top-level
    command (sub-command names as words, options as `--name`)."""
    rows = commands_table(text)
    intro = section(text, "## Commands").split("\n|", 1)[0]
    missing = [f"global option {o}" for o in root.options if not OPTION_IN(o, intro)]
    for command in root.walk()[1:]:
        top, rest = command.path[0], command.path[1:]
        row = rows.get(top)
        if row is None:
            missing.append(f"command `monitor {top}` has no row in the commands table")
            continue
        missing += [f"sub-command `monitor {' '.join(command.path)}`" for name in rest[-1:]
                    if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", row)]
        missing += [f"option {o} of `monitor {' '.join(command.path)}`" for o in command.options
                    if not OPTION_IN(o, row)]
    return sorted(set(missing))


def OPTION_IN(option: str, text: str) -> bool:  # noqa: N802 - reads as the predicate it is
    return option in OPTION.findall(text)


def test_every_command_and_option_is_in_the_commands_reference() -> None:
    missing = undocumented_commands(command_tree(build_parser()), readme())
    assert not missing, "README.md does not document:\n" + "\n".join(missing)


def test_an_undocumented_option_or_command_is_caught() -> None:
    """The check above is not vacuous: a new option or sub-command without a README line is reported."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    subparsers.choices["crawl"].add_argument("--not-in-the-readme", action="store_true")
    subparsers.add_parser("not-in-the-readme")
    missing = undocumented_commands(command_tree(parser), readme())
    assert "option --not-in-the-readme of `monitor crawl`" in missing
    assert "command `monitor not-in-the-readme` has no row in the commands table" in missing


# --- commands and options: README → code -------------------------------------------------------------


def span_problems(root: Command, span: str) -> list[str]:
    """What is wrong with one documented command line such as `monitor model list|promote VERSION
    [--force]|rollback`: a command word the parser lacks, or an option of neither the command named, its
    parents nor its sub-commands. `a|b` names alternatives; option values and placeholders are skipped."""
    command, tokens, words = root, span.replace("[", " ").replace("]", " ").split()[1:], []
    while tokens:
        token = tokens.pop(0)
        if token.startswith("-"):
            action = next((c.action(token) for c in _lineage(root, command) if c.action(token)), None)
            if action is not None and action.nargs != 0 and tokens:
                tokens.pop(0)
            continue
        if not command.children or token == "|":
            break
        names = token.split("|")
        unknown = [n for n in names if n not in command.children]
        if unknown:
            return [f"`{span}`: no command `monitor {' '.join(command.path + (unknown[0],))}`"]
        words.append(token)
        if len(names) > 1:
            break  # alternatives: the options may belong to any of them
        command = command.children[names[0]]
    known = {o for c in _lineage(root, command) + command.walk() for o in c.options} | {"--help"}
    return [f"`{span}`: {o} is no option of `monitor {' '.join(command.path)}`"
            for o in OPTION.findall(span) if o not in known]


def _lineage(root: Command, command: Command) -> list[Command]:
    """`command` and the commands above it, whose options it also takes (`monitor --db X init`)."""
    found, node = [root], root
    for name in command.path:
        node = node.children[name]
        found.append(node)
    return found


def shell_invocations(body: str) -> list[list[str]]:
    """The argument lists of every `monitor` run in a shell or unit-file block: `monitor …`,
    `.venv/bin/monitor …`, `ExecStart=…/bin/monitor …`. The word `monitor` as a user, group or unit
    name (`sudo -u monitor`, `systemctl reload monitor`) or in prose is not a run."""
    runs = []
    for line in body.replace("\\\n", " ").splitlines():  # a line continued with a backslash is one line
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token != "monitor" and not token.endswith("/bin/monitor"):
                continue
            if i and tokens[i - 1].startswith("-"):
                continue
            if i + 1 < len(tokens) and not re.match(r"-|[a-z][a-z-]*$", tokens[i + 1]):
                continue  # prose in a unit file: "Description=Misinformation monitor (scheduler + web UI)"
            args = []
            for word in tokens[i + 1:]:
                if word in ("&&", "||", "|", ";", ">", ">>"):
                    break
                args.append(word)
            if args:
                runs.append(args)
    return runs


def test_every_documented_command_line_exists() -> None:
    """Inline `monitor …` spans name real commands and options; example command lines in the shell and
    unit-file blocks parse exactly as written."""
    text, root, parser = readme(), command_tree(build_parser()), build_parser()
    problems = [p for span in code_spans(text) if span.startswith("monitor ") for p in span_problems(root, span)]
    for language, body in fenced_blocks(text):
        if language not in ("sh", "ini"):
            continue
        for args in shell_invocations(body):
            with redirect_stderr(StringIO()) as err:
                try:
                    parser.parse_args(args)
                except SystemExit:
                    problems.append(f"`monitor {' '.join(args)}`: {err.getvalue().strip().splitlines()[-1]}")
    assert not problems, "README.md documents what the parser lacks:\n" + "\n".join(problems)


def test_every_option_the_readme_mentions_exists() -> None:
    """Any `--name` in the README is an option of some `monitor` command, or another tool's (listed in
    EXTERNAL_OPTIONS with the reason)."""
    known = all_options(command_tree(build_parser()))
    unknown = sorted(set(OPTION.findall(readme())) - known - set(EXTERNAL_OPTIONS))
    assert not unknown, f"README.md mentions options no command has: {unknown}"
    assert not known & set(EXTERNAL_OPTIONS), "an exception names a real `monitor` option: drop it"


# --- environment variables ---------------------------------------------------------------------------


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or (
        isinstance(node, ast.Attribute) and node.attr == "environ")


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def variables_read(source: str) -> set[str]:
    """Environment variables a module reads: the literal name in `os.environ[...]`, `os.environ.get(...)`,
    `os.getenv(...)`, `... in os.environ`, and every `MONITOR_*` string (names kept in a constant, such as
    SECRET_KEY_ENV, or passed to a helper, such as read_password's)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        name = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            name = _literal(node.slice)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute) and (
                (node.func.attr == "get" and _is_environ(node.func.value)) or node.func.attr == "getenv"):
            name = _literal(node.args[0])
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            name = _literal(node.left)
        elif _literal(node) and re.fullmatch(r"MONITOR_[A-Z0-9_]+", _literal(node)):
            name = _literal(node)
        if name:
            names.add(name)
    return names


def code_variables() -> set[str]:
    files = [p for root in ENV_CODE for p in ([root] if root.is_file() else sorted(root.rglob("*.py")))]
    return {name for path in files for name in variables_read(path.read_text(encoding="utf-8"))}


def test_every_environment_variable_is_in_the_configuration_table() -> None:
    """The README promises that the Configuration table lists every variable once."""
    table = section(readme(), "## Configuration")
    missing = sorted(name for name in code_variables() if name not in table)
    assert not missing, f"read by the code, not in README.md's Configuration table: {missing}"


def test_every_documented_variable_is_read_by_the_code() -> None:
    unknown = sorted(set(MONITOR_VARIABLE.findall(readme())) - code_variables())
    assert not unknown, f"in README.md, read by no code: {unknown}"


def test_the_variable_scan_sees_every_way_of_reading_one() -> None:
    source = ("import os\nfrom os import environ\nKEY = 'MONITOR_X1'\na = os.environ['A']\n"
              "b = os.environ.get('B', '')\nc = os.getenv('C')\nd = 'D' in os.environ\ne = environ.get('E')\n")
    assert variables_read(source) == {"MONITOR_X1", "A", "B", "C", "D", "E"}


# --- feeds.yaml --------------------------------------------------------------------------------------


def settings_table(text: str) -> list[str]:
    """The setting names in the first column of the `settings:` table (`a`, `b` in one cell: two names)."""
    rows = table_rows(section(text, "### Settings (`settings:` in feeds.yaml)"))
    return [name for cells in rows[2:] for name in re.findall(r"`([^`]+)`", cells[0])]


def test_every_setting_is_in_the_settings_table() -> None:
    missing = sorted(config.SETTINGS_FIELDS - set(settings_table(readme())))
    assert not missing, f"settings the loader accepts, not in README.md's settings table: {missing}"


def test_the_readme_documents_no_setting_the_loader_rejects() -> None:
    text = readme()
    documented = set(settings_table(text)) | set(re.findall(r"\bsettings\.([a-z_]+)", text))
    unknown = sorted(documented - config.SETTINGS_FIELDS)
    assert not unknown, f"settings in README.md that the loader rejects: {unknown}"


def test_every_source_field_is_listed() -> None:
    """The sentence that lists a source entry's fields ("Every source is an entry …") names them all."""
    listing = section(readme(), "### Source kinds").split("\n\n")[1]
    missing = sorted(f for f in config.SOURCE_FIELDS if f"`{f}`" not in listing)
    assert not missing, f"source fields the loader accepts, not in README.md's list: {missing}"


def feeds_examples(text: str) -> list[str]:
    """The README's YAML blocks that are sources files or lists of sources, each as a whole file."""
    files = []
    for language, body in fenced_blocks(text):
        data = yaml.safe_load(body) if language == "yaml" else None
        if isinstance(data, list) and all(isinstance(entry, dict) and "kind" in entry for entry in data):
            data = {"sources": data}
        if isinstance(data, dict) and "sources" in data:
            files.append(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return files


def test_the_readme_feeds_examples_load(monkeypatch) -> None:
    """Every documented feeds.yaml example (the full file and each source snippet) passes the loader, so
    it uses no field or setting the loader rejects. The alerts example reads its secrets from the
    environment (`${VAR}`), as the service does: they are set here as an operator would."""
    for name, value in (("ALERT_MAIL_URL", "mailtos://canhbao:x@mail.example.vn?to=trucban@example.vn"),
                        ("TG_TOKEN", "123456789:AAtoken"), ("TG_CHAT", "-1001234567890")):
        monkeypatch.setenv(name, value)
    examples = feeds_examples(readme())
    assert len(examples) >= 5
    for example in examples:
        try:
            config.load_text(example, "README.md example")
        except config.ConfigError as exc:
            pytest.fail(f"{exc}\n{example}")
