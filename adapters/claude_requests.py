"""Claude Code's ``can_use_tool`` requests as Trace approval requests, and back.

A permission shows exactly what is asked (the command, the file and the diff
the edit would make); AskUserQuestion is a question whose answer goes back in
``updatedInput.answers``; ExitPlanMode is a plan a person accepts or sends back
with feedback.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from trace_sync.bridge.git.files import confine
from trace_sync.bridge.tools.run import in_worktree, now
from trace_sync.contract.errors import TraceError
from trace_sync.docs.entries import ApprovalDetail, ApprovalRequest, Decision, Question

EDIT_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit"}
#: A diff shown in an approval is cut here; the tool input keeps the whole edit.
DIFF_LIMIT = 64 * 1024
READ_LIMIT = 4 * 1024 * 1024


def approval_request(request_id: str, request: dict[str, Any], cwd: Path) -> ApprovalRequest:
    name = str(request.get("tool_name"))
    tool_input: dict[str, Any] = request.get("input") or {}
    if name == "AskUserQuestion":
        questions = tool_input.get("questions") or []
        first = questions[0] if questions else {}
        return ApprovalRequest(
            id=request_id,
            kind="question",
            tool=name,
            title=" / ".join(str(q.get("question", "")) for q in questions) or "A question",
            input=tool_input,
            options=[str(o.get("label")) for o in first.get("options") or []],
            at=now(),
        )
    if name == "ExitPlanMode":
        plan = str(tool_input.get("plan", ""))
        detail = ApprovalDetail(description=plan)
        return ApprovalRequest(
            id=request_id,
            kind="plan",
            tool=name,
            title="Accept the plan?",
            input=tool_input,
            detail=detail,
            at=now(),
        )
    return ApprovalRequest(
        id=request_id,
        tool=name,
        title=_title(name, tool_input),
        input=tool_input,
        detail=_detail(name, tool_input, request, cwd),
        at=now(),
    )


def question_entry(approval: ApprovalRequest) -> Question:
    return Question(
        id=approval.id,
        at=approval.at,
        request_id=approval.id,
        text=approval.title,
        options=approval.options,
    )


def rule_for(name: str, tool_input: dict[str, Any]) -> str | None:
    """What "allow for this session" covers: the same command, any edit, or the tool."""
    if name in ("AskUserQuestion", "ExitPlanMode"):
        return None
    if name == "Bash":
        return f"Bash:{tool_input.get('command')}"
    return "edit" if name in EDIT_TOOLS else name


def permission_response(
    approval: ApprovalRequest, request: dict[str, Any], answer: Decision
) -> dict[str, Any]:
    tool_input: dict[str, Any] = request.get("input") or {}
    if approval.kind == "question":
        return _question_response(approval, tool_input, answer)
    if answer.behavior in ("allow", "allow_always"):
        response: dict[str, Any] = {"behavior": "allow", "updatedInput": tool_input}
        if answer.behavior == "allow_always":
            response["updatedPermissions"] = _session_rules(request)
        return response
    default = "Keep planning." if approval.kind == "plan" else "The user denied this."
    return {"behavior": "deny", "message": answer.answer or answer.message or default}


def _question_response(
    approval: ApprovalRequest, tool_input: dict[str, Any], answer: Decision
) -> dict[str, Any]:
    if answer.behavior == "deny":
        return {"behavior": "deny", "message": answer.message or "The user did not answer."}
    answers = {}
    for question in tool_input.get("questions") or []:
        options = [str(o.get("label")) for o in question.get("options") or []]
        chosen = answer.answer or (options[0] if options else "")
        answers[str(question.get("question"))] = chosen
    return {"behavior": "allow", "updatedInput": {**tool_input, "answers": answers}}


def _session_rules(request: dict[str, Any]) -> list[dict[str, Any]]:
    # Claude suggests rules for its settings files; Trace keeps them to this session.
    rules = []
    for suggestion in request.get("permission_suggestions") or []:
        if suggestion.get("type") == "addRules":
            rules.append({**suggestion, "destination": "session"})
    return rules


def _title(name: str, tool_input: dict[str, Any]) -> str:
    if name == "Bash":
        return f"Run {tool_input.get('command')}"
    path = tool_input.get("file_path") or tool_input.get("notebook_path")
    if name in EDIT_TOOLS and path:
        return f"{'Write' if name == 'Write' else 'Edit'} {path}"
    return f"Use {name}"


def _detail(
    name: str, tool_input: dict[str, Any], request: dict[str, Any], cwd: Path
) -> ApprovalDetail:
    path = tool_input.get("file_path") or tool_input.get("notebook_path") or tool_input.get("path")
    command = tool_input.get("command") if name == "Bash" else None
    return ApprovalDetail(
        command=str(command) if command is not None else None,
        path=str(path) if path else request.get("blocked_path"),
        diff=_diff(name, tool_input, cwd) if path else None,
        description=request.get("description") or tool_input.get("description"),
    )


def _diff(name: str, tool_input: dict[str, Any], cwd: Path) -> str | None:
    """The unified diff the edit would make to the file as it is now."""
    raw = str(tool_input.get("file_path") or "")
    if not raw or name not in ("Write", "Edit", "MultiEdit"):
        return None
    before = _current(cwd, raw)
    if name == "Write":
        after = str(tool_input.get("content", ""))
    else:
        edits = tool_input.get("edits") or [tool_input]
        after = before
        for edit in edits:
            old, new = str(edit.get("old_string", "")), str(edit.get("new_string", ""))
            after = (
                after.replace(old, new) if edit.get("replace_all") else after.replace(old, new, 1)
            )
    label = Path(raw).name
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"a/{label}",
        f"b/{label}",
    )
    return "".join(lines)[:DIFF_LIMIT]


def _current(cwd: Path, raw: str) -> str:
    try:
        path = confine(cwd, in_worktree(cwd, raw))
        if path.is_file() and path.stat().st_size <= READ_LIMIT:
            return path.read_text(errors="replace")
    except (TraceError, OSError):
        pass  # outside the worktree, new or unreadable: the diff shows the new text only
    return ""
