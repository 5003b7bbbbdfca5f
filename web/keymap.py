"""The one keyboard map: which key runs which command on which page.

Defined once here and rendered twice: as the help overlay's list (web/templates/_shortcuts.html) and,
as JSON in the page's `data-keymap`, as what web/static/app.js binds (it has one handler per command
name and no key of its own), so the help can never describe a key the page does not have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vocab.i18n import N_

QUEUE, ITEM, EVERY_PAGE = "queue", "item", "*"


@dataclass(frozen=True)
class Shortcut:
    keys: tuple[str, ...]
    command: str  # the name of the handler in app.js
    pages: tuple[str, ...]
    label: str  # marked with N_, translated where shown


KEYMAP: tuple[Shortcut, ...] = (
    Shortcut(("j",), "next", (QUEUE,), N_("next story (or item)")),
    Shortcut(("k",), "previous", (QUEUE,), N_("previous story (or item)")),
    Shortcut(("l",), "expand", (QUEUE,), N_("show / hide the story's copies")),
    Shortcut(("Enter", "o"), "open", (QUEUE,), N_("open the item")),
    Shortcut(("x",), "select", (QUEUE,), N_("select / unselect")),
    Shortcut(("c",), "confirm_misinformation", (QUEUE, ITEM),
             N_("confirm misinformation (the selection, if any, after a confirmation)")),
    Shortcut(("h",), "confirm_harm", (QUEUE, ITEM), N_("confirm harmful (the selection, if any)")),
    Shortcut(("d",), "dismiss", (QUEUE, ITEM), N_("not a violation (the selection, if any)")),
    Shortcut(("e",), "escalate", (QUEUE, ITEM), N_("escalate (asks to whom, and a note)")),
    Shortcut(("m",), "claim", (QUEUE,), N_("claim")),
    Shortcut(("r",), "reopen", (ITEM,), N_("reopen (needs a note)")),
    Shortcut(("u",), "undo", (EVERY_PAGE,), N_("undo the last decision (for 30 seconds)")),
    Shortcut(("Escape",), "back", (ITEM,), N_("back to the queue")),
    Shortcut(("s",), "source", (QUEUE, ITEM), N_("open the source link")),
    Shortcut(("?",), "help", (QUEUE, ITEM), N_("show / hide this help")),
)


def shortcuts_for(page: str) -> list[Shortcut]:
    """The shortcuts that work on `page`, in the map's order (what its help overlay lists)."""
    return [s for s in KEYMAP if page in s.pages or EVERY_PAGE in s.pages]


def keymap_json(page: str) -> str:
    """{key: command} for `page`, as the JSON app.js reads from the body's data-keymap."""
    return json.dumps({key: s.command for s in shortcuts_for(page) for key in s.keys}, separators=(",", ":"))


def init_app(app) -> None:
    """Give templates the map (the help overlay and base.html's data-keymap read it)."""
    app.jinja_env.globals.update(shortcuts_for=shortcuts_for, keymap_json=keymap_json)
