"""The handlers of :mod:`trace_sync.cli.branch`. A merge or update that stops
on conflicts lists them and exits 1, so scripts can tell."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import CliError, connect
from trace_sync.cli.output import show_one


def run_push(args: argparse.Namespace) -> None:
    answer = connect(args).post(f"/api/sessions/{args.id}/push")
    if args.json:
        show_one(answer, [], as_json=True)
        return
    print(f"pushed {answer['branch']} to {answer['remote']} at {answer['commit'][:12]}")


def run_fetch(args: argparse.Namespace) -> None:
    answer = connect(args).post(f"/api/sessions/{args.id}/fetch")
    if args.json:
        show_one(answer, [], as_json=True)
        return
    print(" · ".join([answer["branch"], *_against_base(answer), _against_remote(answer)]))


def _against_base(status: dict[str, Any]) -> list[str]:
    if status.get("behind_base") is None:
        return []
    return [f"{status['ahead_base']} ahead, {status['behind_base']} behind {status['base']}"]


def _against_remote(status: dict[str, Any]) -> str:
    remote = status.get("remote")
    if not status.get("pushed"):
        return f"not on {remote}"
    return f"{status['ahead_remote']} ahead, {status['behind_remote']} behind {remote}"


def run_update(args: argparse.Namespace) -> None:
    body = {"mode": args.mode, "hand_off": args.hand_off}
    answer = connect(args).post(f"/api/sessions/{args.id}/update", body)
    if args.json:
        show_one(answer, [], as_json=True)
    elif answer.get("updated"):
        print(f"updated {args.id} ({answer['mode']}) at {str(answer.get('commit'))[:12]}")
    _conflicts(answer, "handed to the tool" if answer.get("left_in_worktree") else "")


def run_merge(args: argparse.Namespace) -> None:
    answer = connect(args).post(f"/api/sessions/{args.id}/merge", {"strategy": args.strategy})
    if args.json:
        show_one(answer, [], as_json=True)
    elif answer.get("merged"):
        print(f"merged {args.id} ({args.strategy}) at {str(answer.get('commit'))[:12]}")
    _conflicts(answer, "nothing was changed")


def run_pr(args: argparse.Namespace) -> None:
    client, path = connect(args), f"/api/sessions/{args.id}/pull-request"
    if args.verb == "open":
        answer = client.post(path, {"title": args.title, "body": args.body})
    elif args.verb == "merge":
        answer = client.post(f"{path}/merge", {"method": args.method})
    else:
        answer = client.get(path)
    if args.json:
        show_one(answer, [], as_json=True)
        return
    print(f"#{answer['number']} {answer['state']}: {answer['title']}\n{answer['url']}")
    for review in answer["reviews"]:
        print(f"  review  {review['author']}: {review['state']}")
    for check in answer["checks"]:
        print(f"  check   {check['name']}: {check['state']}")


def _conflicts(answer: dict[str, Any], then: str) -> None:
    paths = answer.get("conflicts") or []
    if not paths:
        return
    listed = "\n".join(f"  {path}" for path in paths)
    raise CliError(f"conflicts ({then}):\n{listed}" if then else f"conflicts:\n{listed}")
