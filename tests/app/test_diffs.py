"""The diff model the files pane draws: highlighting, word marks, side-by-side rows, folds."""

from __future__ import annotations

from trace_app import diffs, highlight

CHANGE = """--- a/app/models.py
+++ b/app/models.py
@@ -1,4 +1,5 @@
 class User:
-    name = ""
+    name: str = ""
+    email: str = ""
 
     def greet(self):
"""


def _context(n: int) -> str:
    return "".join(f" line {i}\n" for i in range(n))


def _shown(path: str, diff: str) -> list[diffs.Styled]:
    return diffs.styled(path, diffs.parse(diff))


def _marked(s: diffs.Styled) -> str:
    return "".join(span.text for span in s.spans if span.changed)


def test_only_the_words_that_changed_are_marked() -> None:
    lines = _shown("app/models.py", CHANGE)
    removed, added, new = (s for s in lines if s.line.kind in ("removed", "added"))
    assert _marked(added) == ": str"  # the type annotation, not the whole line
    assert _marked(removed) == ""  # nothing of the old line went
    assert _marked(new) == ""  # a new line pairs with nothing: the background says it all
    old, fresh = diffs.words("total = price * 2", "total = price * 3")
    assert ("total = price * 2"[slice(*old[0])], "total = price * 3"[slice(*fresh[0])]) == (
        "2",
        "3",
    )


def test_lines_that_share_nothing_get_no_word_marks() -> None:
    assert diffs.words("import os", "return total / count") == ([], [])
    long = "x = " + "a" * 2000
    assert diffs.words(long, long + "b") == ([], [])  # past the limit: not matched


def test_syntax_classes_follow_the_file_s_language_across_lines() -> None:
    lines = _shown("app/models.py", CHANGE)
    context = next(s for s in lines if s.line.kind == "context")
    assert [(s.text, s.syntax) for s in context.spans][:3] == [
        ("class", "keyword"),
        (" ", ""),
        ("User", "type"),
    ]
    # A line inside a string opened two lines up is a string: each side is lexed as one text.
    doc = '@@ -1,3 +1,3 @@\n x = """\n-old words\n+new words\n """\n'
    inside = [s for s in _shown("doc.py", doc) if s.line.kind in ("removed", "added")]
    assert all(span.syntax == "string" for s in inside for span in s.spans)
    assert all(span.syntax == "" for s in _shown("notes.unknownext", CHANGE) for span in s.spans)
    assert set(highlight.classes("a.py", ["def f(): return 1"])[0][i][2] for i in range(3)) <= (
        highlight.CLASSES
    )


def test_spans_put_the_line_back_together() -> None:
    for s in _shown("app/models.py", CHANGE):
        assert "".join(span.text for span in s.spans) == s.line.text


def test_side_by_side_puts_a_replaced_line_beside_its_replacement() -> None:
    rows = diffs.side_by_side(_shown("app/models.py", CHANGE))
    numbers = [
        (r.left.line.old if r.left else None, r.right.line.new if r.right else None)
        for r in rows
        if r.right is None or r.right.line.kind not in ("meta", "hunk")
    ]
    assert numbers == [(1, 1), (2, 2), (None, 3), (3, 4), (4, 5)]
    headers = [r for r in rows if r.right is not None and r.right.line.kind in ("meta", "hunk")]
    assert [r.left for r in headers] == [None, None, None]  # a header fills its row


def test_a_long_unchanged_run_is_folded_to_its_ends_until_opened() -> None:
    diff = "@@ -1,22 +1,22 @@\n-a\n+b\n" + _context(20) + "-c\n+d\n"
    rows = _shown("x.txt", diff)
    shown = diffs.fold(rows, opened=set())
    folds = [r for r in shown if isinstance(r, diffs.DiffFold)]
    assert folds == [diffs.DiffFold(start=6, count=14)]  # hunk, -a, +b, 3 kept, then the fold
    kept = [r.line.text for r in shown if isinstance(r, diffs.Styled) and r.unchanged]
    assert kept == ["line 0", "line 1", "line 2", "line 17", "line 18", "line 19"]
    assert diffs.fold(rows, opened={6}) == rows
    pairs = diffs.side_by_side(rows)
    assert [r for r in diffs.fold(pairs, set()) if isinstance(r, diffs.DiffFold)] == [
        diffs.DiffFold(start=5, count=14)  # same run, one row fewer before it (-a beside +b)
    ]


def test_short_runs_stay_and_a_run_at_the_end_keeps_only_its_start() -> None:
    short = "@@ -1,9 +1,9 @@\n-a\n+b\n" + _context(8) + "-c\n+d\n"
    rows = _shown("x.txt", short)
    assert diffs.fold(rows, set()) == rows
    trailing = "@@ -1,21 +1,21 @@\n-c\n+d\n" + _context(20)
    shown = diffs.fold(_shown("x.txt", trailing), set())
    assert shown[-1] == diffs.DiffFold(start=6, count=17)  # nothing after it: only 3 kept before
