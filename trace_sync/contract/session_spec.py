"""A session's launch parameters: one typed object from the form to the tool.

The CLI (``trace session start``/``fork``) and the app's new-session form
build a :class:`SessionSpec`; the API takes it as the start body; the session
service stores its fields in the session's row and the ``meta`` of
``session/<sid>``; the server sends it to the bridge inside ``assign``; the
bridge hands its tool, model and permission mode to the adapter. It is
validated once, here, when it is made; everything after it trusts the types.
A fork is its parent's spec with a few fields changed (:meth:`SessionSpec.changed`).

>>> spec = SessionSpec.of(repo_id="r_1", tool="codex", permission_mode="accept_edits")
>>> spec.permission_mode
'accept_edits'
>>> spec.changed(model="gpt-5").model
'gpt-5'
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from trace_sync.contract import tools
from trace_sync.contract.errors import InvalidInput, TraceError
from trace_sync.contract.tools import Location, PermissionMode, Tool

MAX_TITLE = 200
MAX_PROMPT = 100_000
MAX_MODEL = 100
#: A git branch name Trace accepts (a safe subset of ``git check-ref-format``).
BRANCH = re.compile(r"^(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9][A-Za-z0-9._/-]{0,199}(?<![./])$")

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class SessionSpec(BaseModel):
    """What to run, where and how: chosen once, when a session starts or forks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The workspace repo to work in (``None`` only for a session whose repo was removed).
    repo_id: Id | None = None
    tool: Tool
    #: The branch the session's own branch starts from (default: the repo's default branch).
    base_branch: str | None = None
    #: The tool's model (default: the bridge's setting for the tool, then the tool's own).
    model: str | None = None
    permission_mode: PermissionMode = "ask"
    #: Default: the first line of the prompt, else "<tool> on <repo>".
    title: str | None = None
    #: Only its owner and the workspace's admins see it.
    private: bool = False
    location: Location = "local"
    #: The first prompt (queued once the tool is up).
    prompt: str | None = Field(None, max_length=MAX_PROMPT)

    @classmethod
    def of(cls, **fields: Any) -> SessionSpec:
        """A spec from loose values; ``InvalidInput`` names the field at fault."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise InvalidInput(_problems(exc)) from exc

    def changed(self, **changes: Any) -> SessionSpec:
        """This spec with ``changes`` applied, validated again (a fork's spec)."""
        return SessionSpec.of(**(self.model_dump() | changes))

    # Validators raise ValueError (pydantic's way): the API answers 422 naming the
    # field, and :meth:`of` turns them into ``InvalidInput``.

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{info.field_name} may not contain a NUL character")
        return value

    @field_validator("tool", mode="before")
    @classmethod
    def _tool(cls, value: Any) -> Any:
        return _checked(tools.tool, value)

    @field_validator("permission_mode", mode="before")
    @classmethod
    def _permission_mode(cls, value: Any) -> Any:
        # The canonical spelling only: a command line accepts ``accept-edits`` and
        # converts it (tools.permission_mode) before it makes a spec.
        if isinstance(value, str) and value not in tools.PERMISSION_MODES:
            modes = ", ".join(tools.PERMISSION_MODES)
            raise ValueError(f"permission mode is one of {modes}, not {value!r}")
        return value

    @field_validator("location", mode="before")
    @classmethod
    def _location(cls, value: Any) -> Any:
        return _checked(tools.location, value)

    @field_validator("base_branch")
    @classmethod
    def _branch(cls, name: str | None) -> str | None:
        if name is not None and (not BRANCH.match(name) or name.endswith(".lock")):
            raise ValueError(f"not a usable branch name: {name!r}")
        return name

    @field_validator("model")
    @classmethod
    def _model(cls, model: str | None) -> str | None:
        if model is None:
            return None
        if not 0 < len(model.strip()) <= MAX_MODEL:
            raise ValueError(f"a model name is 1-{MAX_MODEL} characters")
        return model.strip()

    @field_validator("title")
    @classmethod
    def _title(cls, title: str | None) -> str | None:
        return None if title is None else clean_title(title)

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, prompt: Any) -> Any:
        if isinstance(prompt, str) and len(prompt) > MAX_PROMPT:
            raise ValueError(f"a prompt is at most {MAX_PROMPT} characters")
        return prompt


def clean_title(title: str) -> str:
    """``title`` with its white space collapsed; ``ValueError`` unless 1-200 characters."""
    title = " ".join(title.split())
    if not 0 < len(title) <= MAX_TITLE:
        raise ValueError(f"a title is 1-{MAX_TITLE} characters")
    return title


def _checked(parse: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value  # pydantic refuses it by type
    try:
        return parse(value)
    except TraceError as exc:
        raise ValueError(str(exc)) from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()[:5]
    )
