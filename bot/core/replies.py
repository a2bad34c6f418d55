"""Structured replies: text, embeds, files and components, rendered by each adapter.

A handler returns a ``Reply``; Discord turns it into ``discord.Embed``, ``discord.File`` and
a ``discord.ui.View``, the console into lines of text, saved files and numbered choices.

Components carry a stable ``custom_id`` of the form ``route:data``: ``route`` names the
feature's ``ComponentRoute`` that handles a press, ``data`` is whatever that handler needs
(a draft id, a member id). Nothing about a button lives in memory, so a button pressed
after a restart reaches the same handler with the same data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from bot.core.commands import EVERYONE, Access, Caller

CUSTOM_ID = re.compile(r"^(?P<route>[a-z][a-z0-9_.-]{0,39}):(?P<data>[^\n]{0,59})$")
MAX_ROWS = 5  # Discord: 5 rows, each 5 buttons or one select
MAX_EMBEDS = MAX_FILES = 10
MAX_EMBED_FIELDS = 25
BUTTON_STYLES = ("primary", "secondary", "success", "danger")


def custom_id(route: str, data: str = "") -> str:
    """Build a component id; raises ValueError beyond Discord's 100 characters or our shape."""
    value = f"{route}:{data}"
    if not CUSTOM_ID.fullmatch(value):  # fullmatch, as discord.py matches ($ allows a "\n")
        raise ValueError(f"custom id {value!r}: route is 1-40 of a-z0-9_.- and data at most 59 characters")
    return value


def split_custom_id(value: str) -> tuple[str, str] | None:
    match = CUSTOM_ID.fullmatch(value)
    return None if match is None else (match["route"], match["data"])


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True)
class Embed:
    title: str = ""
    description: str = ""
    fields: tuple[Field, ...] = ()
    colour: int | None = None  # 0xRRGGBB
    footer: str = ""

    def __post_init__(self) -> None:
        if len(self.fields) > MAX_EMBED_FIELDS:
            raise ValueError(f"an embed holds at most {MAX_EMBED_FIELDS} fields")


@dataclass(frozen=True)
class File:
    """A file to attach: a PNG chart, a JSON export."""

    name: str
    data: bytes = field(repr=False)
    description: str = ""

    def __post_init__(self) -> None:
        if not re.match(r"^[\w.-]{1,100}$", self.name) or self.name.startswith("."):
            raise ValueError(f"file name {self.name!r}: letters, digits, '.', '-' and '_' only")


@dataclass(frozen=True)
class Button:
    label: str
    custom_id: str
    style: str = "secondary"
    disabled: bool = False

    def __post_init__(self) -> None:
        if self.style not in BUTTON_STYLES:
            raise ValueError(f"button style {self.style!r}: one of {', '.join(BUTTON_STYLES)}")
        if split_custom_id(self.custom_id) is None:
            raise ValueError(f"button {self.label!r}: build its id with custom_id()")


@dataclass(frozen=True)
class SelectOption:
    label: str
    value: str
    description: str = ""


@dataclass(frozen=True)
class Select:
    custom_id: str
    options: tuple[SelectOption, ...]
    placeholder: str = ""
    min_values: int = 1
    max_values: int = 1

    def __post_init__(self) -> None:
        if split_custom_id(self.custom_id) is None:
            raise ValueError("select: build its id with custom_id()")
        if not 0 < len(self.options) <= 25 or not 0 <= self.min_values <= self.max_values <= len(self.options):
            raise ValueError("select: 1-25 options and 0 <= min_values <= max_values <= options")


Component = Button | Select


@dataclass(frozen=True)
class TextField:
    """One text box of a form: ``long`` is a paragraph box, else one line."""

    name: str
    label: str
    value: str = ""
    long: bool = True
    max_length: int = 2000

    def __post_init__(self) -> None:
        if not 0 < len(self.label) <= 45 or not 0 < self.max_length <= 4000:
            raise ValueError(f"text field {self.name!r}: a label of 1-45 characters, at most 4000")


@dataclass(frozen=True)
class Form:
    """A form the member fills in (Discord: a modal), opened in answer to a button press.
    Submitting it reaches the route of ``custom_id`` as a ``Press`` with ``form`` values."""

    title: str
    custom_id: str
    fields: tuple[TextField, ...]

    def __post_init__(self) -> None:
        if split_custom_id(self.custom_id) is None:
            raise ValueError("form: build its id with custom_id()")
        if not 0 < len(self.fields) <= 5 or not 0 < len(self.title) <= 45:
            raise ValueError("form: a title of 1-45 characters and 1-5 fields")


@dataclass(frozen=True)
class Reply:
    """What a handler answers. ``private`` None means "the command's default".
    ``ping_role`` is the one role a moderator explicitly chose to notify; model text never
    sets it, and without it nothing a reply says pings anyone. ``replace`` (for a component
    press) edits the message that carried the button instead of sending a new one. A
    ``form`` (only in answer to a press of a ``ComponentRoute`` with ``opens_forms``) opens
    that form instead of answering."""

    text: str = ""
    embeds: tuple[Embed, ...] = ()
    files: tuple[File, ...] = ()
    components: tuple[Component, ...] = ()
    private: bool | None = None
    ping_role: int | None = None
    replace: bool = False
    form: Form | None = None

    def __post_init__(self) -> None:
        buttons = sum(isinstance(c, Button) for c in self.components)
        rows = len(self.components) - buttons + -(-buttons // 5)
        if rows > MAX_ROWS:
            raise ValueError(f"a reply holds {MAX_ROWS} rows of components (5 buttons or one "
                             f"select each); this one needs {rows}")
        if len(self.embeds) > MAX_EMBEDS or len(self.files) > MAX_FILES:
            raise ValueError(f"a reply holds at most {MAX_EMBEDS} embeds and {MAX_FILES} files")
        if not (self.text or self.embeds or self.files or self.replace or self.form):
            raise ValueError("an empty reply")

    def replacing(self) -> Reply:
        """This reply as the edit of the message whose button was pressed."""
        return dataclasses.replace(self, replace=True)


@dataclass(frozen=True)
class Press:
    """A pressed button, a chosen select value or a submitted form: who, which route, its
    data, the values chosen, and the form's fields by name (empty for a press)."""

    caller: Caller
    route: str
    data: str
    values: tuple[str, ...] = ()
    message_id: int | None = None
    form: Mapping[str, str] = field(default_factory=dict)


PressHandler = Callable[[Press], Awaitable[Reply]]


@dataclass(frozen=True)
class ComponentRoute:
    """Handles every component whose custom id starts with ``route:``. A route that
    ``opens_forms`` is answered without a "thinking" acknowledgement first (Discord opens a
    form only as the first answer), so its handler must answer a press quickly."""

    route: str
    handler: PressHandler = field(compare=False, repr=False)
    access: Access = EVERYONE
    opens_forms: bool = False
