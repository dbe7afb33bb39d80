"""The file tools against a real directory tree: confinement, Claude Code's behaviours and error
strings, permissions, and Grep giving the same output with ripgrep and without it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.fs import MODIFIED_SINCE_READ, NOT_READ
from tools.fs.edit import NO_CHANGES, NOT_FOUND, Edit, too_many_matches
from tools.fs.glob import Glob
from tools.fs.grep import Grep
from tools.fs.read import Read
from tools.fs.write import Write

HAVE_RG = shutil.which("rg") is not None
needs_rg = pytest.mark.skipif(not HAVE_RG, reason="ripgrep (rg) is not installed")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    return project


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    return ToolContext(project_root=root, allow_edits=True)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(tool, params, ctx) -> str:
    with pytest.raises(ToolError) as info:
        tool.run(params, ctx)
    return str(info.value)


def touch_later(path: Path, seconds: int = 5) -> None:
    """Move mtime forward so a change is visible even on coarse-timestamp filesystems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


# --- confinement -----------------------------------------------------------------------------

@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = write(tmp_path / "outside" / "secret.txt", "top secret\n")
    return secret


@pytest.mark.parametrize("tool,params", [
    (Read(), {"file_path": "{p}"}),
    (Edit(), {"file_path": "{p}", "old_string": "top", "new_string": "bottom"}),
    (Write(), {"file_path": "{p}", "content": "x"}),
    (Grep(), {"pattern": "secret", "path": "{p}"}),
    (Glob(), {"pattern": "*", "path": "{p}"}),
])
def test_every_tool_refuses_paths_outside_the_root(tool, params, ctx, root, outside):
    (root / "link").symlink_to(outside.parent)
    (root / "filelink").symlink_to(outside)
    folder_tool = isinstance(tool, Glob)
    escapes = ["../outside" if folder_tool else "../outside/secret.txt",
               str(outside.parent) if folder_tool else str(outside),
               "link" if folder_tool else "link/secret.txt",
               "sub/../../outside"]
    if not folder_tool:
        escapes.append("filelink")
    for raw in escapes:
        call = {k: (v.format(p=raw) if isinstance(v, str) else v) for k, v in params.items()}
        message = error_of(tool, call, ctx)
        assert message.startswith("path is outside the project root:"), (raw, message)
    assert outside.read_text() == "top secret\n"


def test_outside_refusal_names_the_path(ctx):
    assert error_of(Read(), {"file_path": "/etc/passwd"}, ctx) == "path is outside the project root: /etc/passwd"
    assert "'..'" in error_of(Read(), {"file_path": "../x"}, ctx)


def test_symlink_refusal_says_where_it_points(ctx, root, outside):
    (root / "filelink").symlink_to(outside)
    message = error_of(Read(), {"file_path": "filelink"}, ctx)
    assert "symlink" in message and str(outside) in message


def test_write_through_a_dangling_symlink_to_outside_is_refused(ctx, root, tmp_path):
    target = tmp_path / "elsewhere" / "new.txt"
    (root / "dangling").symlink_to(target)
    error_of(Write(), {"file_path": "dangling", "content": "x"}, ctx)
    assert not target.exists()


def test_absolute_paths_inside_the_root_and_symlinks_within_it_are_fine(ctx, root):
    write(root / "lib" / "a.ex", "one\n")
    (root / "alias.ex").symlink_to(root / "lib" / "a.ex")
    assert Read().run({"file_path": str(root / "lib" / "a.ex")}, ctx) == "1\tone"
    assert Read().run({"file_path": "alias.ex"}, ctx) == "1\tone"
    assert Read().run({"file_path": "lib/../lib/a.ex"}, ctx) == "1\tone"


# --- Read ------------------------------------------------------------------------------------

def test_read_numbers_lines_like_cat_n(ctx, root):
    write(root / "a.ex", "defmodule A do\n  def x, do: 1\nend\n")
    assert Read().run({"file_path": "a.ex"}, ctx) == "1\tdefmodule A do\n2\t  def x, do: 1\n3\tend"


def test_read_offset_is_the_first_line_shown_and_limit_counts_lines(ctx, root):
    write(root / "a.txt", "".join(f"line {i}\n" for i in range(1, 11)))
    out = Read().run({"file_path": "a.txt", "offset": 4, "limit": 2}, ctx)
    assert out.startswith("4\tline 4\n5\tline 5\n")
    assert "Showing lines 4-5 of 10" in out and "offset=6" in out
    assert Read().run({"file_path": "a.txt", "offset": 0, "limit": 1}, ctx).startswith("1\tline 1\n")
    assert Read().run({"file_path": "a.txt", "offset": 1, "limit": 1}, ctx).startswith("1\tline 1\n")
    assert Read().run({"file_path": "a.txt", "offset": 10}, ctx) == "10\tline 10"
    assert "past the end" in Read().run({"file_path": "a.txt", "offset": 11}, ctx)


def test_read_shows_2000_lines_by_default(ctx, root):
    write(root / "big.txt", "".join(f"{i}\n" for i in range(1, 2501)))
    out = Read().run({"file_path": "big.txt"}, ctx)
    assert "2000\t2000\n" in out and "2001\t" not in out
    assert "Showing lines 1-2000 of 2500" in out and "offset=2001" in out


def test_read_cuts_long_lines_visibly(ctx, root):
    write(root / "min.js", "x" * 2500 + "\nshort\n")
    first, second = Read().run({"file_path": "min.js"}, ctx).split("\n")
    assert first.startswith("1\t" + "x" * 2000) and first.endswith("[line cut: 500 more characters]")
    assert second == "2\tshort"


def test_read_strips_carriage_returns_and_handles_no_final_newline(ctx, root):
    write(root / "crlf.txt", b"a\r\nb")
    assert Read().run({"file_path": "crlf.txt"}, ctx) == "1\ta\n2\tb"


def test_read_errors_and_empty_file(ctx, root):
    write(root / "bin.dat", b"PK\x03\x04\x00\x00binary")
    (root / "folder").mkdir()
    write(root / "empty.txt", "")
    assert "binary" in error_of(Read(), {"file_path": "bin.dat"}, ctx)
    assert "directory" in error_of(Read(), {"file_path": "folder"}, ctx)
    assert error_of(Read(), {"file_path": "nope.txt"}, ctx) == "file does not exist: nope.txt"
    assert "empty" in Read().run({"file_path": "empty.txt"}, ctx)


def test_read_validates_parameters(ctx, root):
    write(root / "a.txt", "a\n")
    assert "needs `file_path`" in error_of(Read(), {}, ctx)
    assert "must be a string" in error_of(Read(), {"file_path": 3}, ctx)
    assert "must be an integer" in error_of(Read(), {"file_path": "a.txt", "offset": "soon"}, ctx)
    assert "at least 1" in error_of(Read(), {"file_path": "a.txt", "limit": 0}, ctx)
    assert "JSON object" in error_of(Read(), ["a.txt"], ctx)
    assert Read().run({"file_path": "a.txt", "limit": "5"}, ctx) == "1\ta"


def test_read_records_the_file_for_edit(ctx, root):
    path = write(root / "a.txt", "abc\n")
    Read().run({"file_path": "a.txt"}, ctx)
    st = path.stat()
    assert ctx.read_files[path.resolve()] == (st.st_mtime_ns, st.st_size)


# --- Edit ------------------------------------------------------------------------------------

@pytest.fixture
def read_file(ctx, root):
    def make(rel: str, text: str) -> Path:
        path = write(root / rel, text)
        Read().run({"file_path": rel}, ctx)
        return path
    return make


def test_edit_replaces_and_returns_a_diff(ctx, read_file):
    path = read_file("lib/a.ex", "def a do\n  Repo.all(Post)\nend\n")
    out = Edit().run({"file_path": "lib/a.ex", "old_string": "Repo.all(Post)",
                      "new_string": "Repo.all(Post) |> Repo.preload(:comments)"}, ctx)
    assert path.read_text() == "def a do\n  Repo.all(Post) |> Repo.preload(:comments)\nend\n"
    assert "--- a/lib/a.ex\n+++ b/lib/a.ex\n" in out
    assert "-  Repo.all(Post)\n+  Repo.all(Post) |> Repo.preload(:comments)\n" in out


def test_edit_error_strings_are_claude_codes(ctx, root, read_file):
    assert NOT_READ == "File has not been read yet. Read it first before writing to it."
    assert MODIFIED_SINCE_READ == ("File has been modified since read, either by the user or by a linter. "
                                   "Read it again before attempting to write it.")
    assert NOT_FOUND == "String to replace not found in file."
    assert NO_CHANGES == "No changes to make: old_string and new_string are exactly the same."
    assert too_many_matches(3) == (
        "Found 3 matches of the string to replace, but replace_all is false. To replace all occurrences, set "
        "replace_all to true. To replace only one occurrence, please provide more context to uniquely identify "
        "the instance.")

    write(root / "unread.ex", "x = 1\n")
    assert error_of(Edit(), {"file_path": "unread.ex", "old_string": "1", "new_string": "2"}, ctx) == NOT_READ

    path = read_file("a.ex", "x = 1\nx = 1\nx = 1\n")
    assert error_of(Edit(), {"file_path": "a.ex", "old_string": "y", "new_string": "z"}, ctx) == NOT_FOUND
    assert error_of(Edit(), {"file_path": "a.ex", "old_string": "x = 1", "new_string": "x = 2"},
                    ctx) == too_many_matches(3)
    assert error_of(Edit(), {"file_path": "a.ex", "old_string": "x", "new_string": "x"}, ctx) == NO_CHANGES

    path.write_text("x = 1\nx = 1\nx = 1\ny = 2\n")
    touch_later(path)
    assert error_of(Edit(), {"file_path": "a.ex", "old_string": "y = 2", "new_string": "y = 3"},
                    ctx) == MODIFIED_SINCE_READ
    assert path.read_text() == "x = 1\nx = 1\nx = 1\ny = 2\n"


def test_edit_replace_all(ctx, read_file):
    path = read_file("a.ex", "user = get(user_id)\nlog(user)\n")
    out = Edit().run({"file_path": "a.ex", "old_string": "user", "new_string": "account", "replace_all": True}, ctx)
    assert path.read_text() == "account = get(account_id)\nlog(account)\n"
    assert "3 replacements" in out


def test_successive_edits_need_only_one_read(ctx, read_file):
    path = read_file("a.ex", "a\nb\nc\n")
    Edit().run({"file_path": "a.ex", "old_string": "a", "new_string": "A"}, ctx)
    Edit().run({"file_path": "a.ex", "old_string": "b", "new_string": "B"}, ctx)
    Edit().run({"file_path": "a.ex", "old_string": "c\n", "new_string": "C\n"}, ctx)
    assert path.read_text() == "A\nB\nC\n"


def test_edit_accepts_aliases(ctx, read_file):
    path = read_file("a.ex", "old\n")
    Edit().run({"path": "a.ex", "old_str": "old", "new_str": "new"}, ctx)
    assert path.read_text() == "new\n"


def test_edit_matches_crlf_files_quoted_with_plain_newlines(ctx, read_file):
    path = read_file("win.ex", "a\r\nb\r\nc\r\n")
    Edit().run({"file_path": "win.ex", "old_string": "a\nb", "new_string": "a\nB"}, ctx)
    assert path.read_bytes() == b"a\r\nB\r\nc\r\n"


def test_edit_with_empty_old_string_creates_a_missing_file(ctx, root):
    Edit().run({"file_path": "lib/new.ex", "old_string": "", "new_string": "hello\n"}, ctx)
    assert (root / "lib" / "new.ex").read_text() == "hello\n"
    # and it counts as read, so it can be edited at once
    Edit().run({"file_path": "lib/new.ex", "old_string": "hello", "new_string": "bye"}, ctx)
    assert (root / "lib" / "new.ex").read_text() == "bye\n"


def test_edit_missing_file_and_bad_params(ctx, root):
    assert "does not exist" in error_of(Edit(), {"file_path": "no.ex", "old_string": "a", "new_string": "b"}, ctx)
    assert "needs `old_string`" in error_of(Edit(), {"file_path": "no.ex", "new_string": "b"}, ctx)
    assert "must be true or false" in error_of(
        Edit(), {"file_path": "no.ex", "old_string": "a", "new_string": "b", "replace_all": "yes"}, ctx)


def test_edits_are_refused_when_not_allowed(root, read_file):
    ctx = ToolContext(project_root=root)
    path = write(root / "a.ex", "a\n")
    Read().run({"file_path": "a.ex"}, ctx)
    message = error_of(Edit(), {"file_path": "a.ex", "old_string": "a", "new_string": "b"}, ctx)
    assert "edits are not allowed in this run" in message and "--allow-edits" in message
    message = error_of(Write(), {"file_path": "b.ex", "content": "b"}, ctx)
    assert "edits are not allowed in this run" in message and "--allow-edits" in message
    assert path.read_text() == "a\n" and not (root / "b.ex").exists()


def test_approval_callback_decides_when_edits_are_not_allowed_up_front(root):
    asked = []
    answer = {"value": False}

    def approve(tool: str, summary: str) -> bool:
        asked.append((tool, summary))
        return answer["value"]

    ctx = ToolContext(project_root=root, approve=approve)
    path = write(root / "a.ex", "a\n")
    Read().run({"file_path": "a.ex"}, ctx)
    message = error_of(Edit(), {"file_path": "a.ex", "old_string": "a", "new_string": "b"}, ctx)
    assert "edits are not allowed in this run" in message and "declined" in message
    assert path.read_text() == "a\n"
    assert asked[0][0] == "Edit" and "-a\n+b" in asked[0][1]

    answer["value"] = True
    Edit().run({"file_path": "a.ex", "old_string": "a", "new_string": "b"}, ctx)
    assert path.read_text() == "b\n"
    Write().run({"file_path": "new.ex", "content": "n\n"}, ctx)
    assert asked[-1][0] == "Write" and "new.ex" in asked[-1][1]
    assert (root / "new.ex").read_text() == "n\n"


def test_no_approval_is_asked_for_an_edit_that_would_fail(root):
    asked = []
    ctx = ToolContext(project_root=root, approve=lambda tool, summary: asked.append(tool) or True)
    write(root / "a.ex", "a\n")
    Read().run({"file_path": "a.ex"}, ctx)
    error_of(Edit(), {"file_path": "a.ex", "old_string": "zzz", "new_string": "b"}, ctx)
    assert asked == []


# --- Write -----------------------------------------------------------------------------------

def test_write_creates_files_and_folders(ctx, root):
    out = Write().run({"file_path": "priv/repo/migrations/1_add_index.exs", "content": "a\nb\n"}, ctx)
    assert (root / "priv/repo/migrations/1_add_index.exs").read_text() == "a\nb\n"
    assert out == "Created priv/repo/migrations/1_add_index.exs (2 lines)."


def test_write_overwrite_needs_a_read_and_shows_a_diff(ctx, root):
    path = write(root / "a.ex", "old\n")
    assert error_of(Write(), {"file_path": "a.ex", "content": "new\n"}, ctx) == NOT_READ
    Read().run({"file_path": "a.ex"}, ctx)
    out = Write().run({"file_path": "a.ex", "content": "new\n"}, ctx)
    assert path.read_text() == "new\n"
    assert "-old\n+new" in out
    # the write counts as a read: an edit may follow
    Edit().run({"file_path": "a.ex", "old_string": "new", "new_string": "newer"}, ctx)
    assert path.read_text() == "newer\n"


def test_write_refuses_a_file_changed_since_read(ctx, root):
    path = write(root / "a.ex", "old\n")
    Read().run({"file_path": "a.ex"}, ctx)
    path.write_text("someone else\n")
    touch_later(path)
    assert error_of(Write(), {"file_path": "a.ex", "content": "mine\n"}, ctx) == MODIFIED_SINCE_READ
    assert path.read_text() == "someone else\n"


def test_write_onto_a_folder_is_an_error(ctx, root):
    (root / "lib").mkdir()
    assert "directory" in error_of(Write(), {"file_path": "lib", "content": "x"}, ctx)


# --- Glob ------------------------------------------------------------------------------------

def set_mtime(path: Path, seconds: int) -> None:
    os.utime(path, (seconds, seconds))


def test_glob_lists_newest_first(ctx, root):
    for i, name in enumerate(["lib/a.ex", "lib/deep/b.ex", "test/c_test.exs", "README.md"]):
        set_mtime(write(root / name, "x"), 1_700_000_000 + i * 10)
    assert Glob().run({"pattern": "**/*.ex"}, ctx) == "lib/deep/b.ex\nlib/a.ex"
    assert Glob().run({"pattern": "**/*.{ex,exs}"}, ctx) == "test/c_test.exs\nlib/deep/b.ex\nlib/a.ex"
    assert Glob().run({"pattern": "*.ex", "path": "lib"}, ctx) == "lib/a.ex"
    assert Glob().run({"pattern": "lib/*.ex"}, ctx) == "lib/a.ex"
    assert Glob().run({"pattern": "*.md"}, ctx) == "README.md"
    assert Glob().run({"pattern": "*.py"}, ctx) == "No files found"
    assert Glob().run({"pattern": str(root / "lib" / "*.ex")}, ctx) == "lib/a.ex"


def test_glob_caps_at_100_with_a_note(ctx, root):
    for i in range(130):
        set_mtime(write(root / "many" / f"f{i:03}.txt", "x"), 1_700_000_000 + i)
    out = Glob().run({"pattern": "many/*.txt"}, ctx).split("\n")
    assert len(out) == 101
    assert out[0] == "many/f129.txt" and out[99] == "many/f030.txt"
    assert "100 most recently modified of 130" in out[100]


def test_glob_skips_build_deps_gitignored_and_symlinks_unless_named(ctx, root, tmp_path):
    write(root / "lib/a.ex", "x")
    write(root / "deps/ecto/lib/ecto.ex", "x")
    write(root / "_build/dev/x.ex", "x")
    write(root / ".git/hooks/h.ex", "x")
    write(root / "generated/g.ex", "x")
    write(root / "lib/keep/k.ex", "x")
    write(root / ".gitignore", "/generated\n*.tmp\nlib/keep/\n!lib/keep/\n")
    write(root / "lib/scratch.tmp", "x")
    write(tmp_path / "elsewhere" / "e.ex", "x")
    (root / "lib" / "linked").symlink_to(tmp_path / "elsewhere")
    assert sorted(Glob().run({"pattern": "**/*.ex"}, ctx).split("\n")) == ["lib/a.ex", "lib/keep/k.ex"]
    assert Glob().run({"pattern": "**/*.tmp"}, ctx) == "No files found"
    assert Glob().run({"pattern": "deps/ecto/**/*.ex"}, ctx) == "deps/ecto/lib/ecto.ex"
    assert Glob().run({"pattern": "**/*.ex", "path": "deps"}, ctx) == "deps/ecto/lib/ecto.ex"


def test_glob_path_must_be_a_folder(ctx, root):
    write(root / "a.ex", "x")
    assert "not a folder" in error_of(Glob(), {"pattern": "*", "path": "a.ex"}, ctx)
    assert "does not exist" in error_of(Glob(), {"pattern": "*", "path": "nope"}, ctx)
    assert Glob().run({"pattern": "*.ex", "path": "undefined"}, ctx) == "a.ex"
    assert "needs `pattern`" in error_of(Glob(), {}, ctx)


# --- Grep ------------------------------------------------------------------------------------

@pytest.fixture
def tree(root: Path) -> Path:
    write(root / "lib/app/orders.ex",
          "defmodule App.Orders do\n"
          "  import Ecto.Query\n"
          "  def list do\n"
          "    Repo.all(Order)\n"
          "  end\n"
          "\n"
          "  def for_user(user) do\n"
          "    from(o in Order,\n"
          "      where: o.user_id == ^user.id)\n"
          "    |> Repo.all()\n"
          "  end\n"
          "end\n")
    write(root / "lib/app/users.ex", "defmodule App.Users do\n  def get(id), do: Repo.get(User, id)\nend\n")
    write(root / "lib/app-web/page.heex", "<p>Repo.all in a template</p>\n")
    write(root / "test/orders_test.exs", "test \"lists\" do\n  assert Repo.all(Order) == []\nend\n")
    write(root / "priv/repo/structure.sql", "CREATE TABLE orders (id bigint);\nSELECT * FROM orders;\n")
    write(root / "crlf.ex", b"Repo.all(X)\r\nother\r\n")
    write(root / ".formatter.exs", "[inputs: [\"Repo.all\"]]\n")
    write(root / "deps/ecto/lib/repo.ex", "def all(queryable), do: Repo.all(queryable)\n")
    write(root / "_build/dev/lib/app.ex", "Repo.all\n")
    write(root / "cover/report.txt", "Repo.all\n")
    write(root / ".gitignore", "/cover\n")
    write(root / "assets/logo.png", b"\x89PNG\r\n\x00\x00Repo.all\n")
    write(root / "big.txt", "".join(f"Repo.all line {i} " + "y" * 100 + "\n" for i in range(400)))
    write(root / "hits.txt", "".join(f"hit {i}\n" for i in range(300)))
    return root


GREP_CASES = [
    {"pattern": "Repo\\.all"},
    {"pattern": "Repo\\.all", "output_mode": "content"},
    {"pattern": "Repo\\.all", "output_mode": "count"},
    {"pattern": "repo\\.ALL", "-i": True, "output_mode": "count"},
    {"pattern": "Repo\\.all", "output_mode": "content", "-n": False, "glob": "*.ex"},
    {"pattern": "Repo", "output_mode": "content", "-C": 1, "path": "lib"},
    {"pattern": "Repo", "output_mode": "content", "-A": 2, "-B": 1, "type": "elixir"},
    {"pattern": "def \\w+\\(", "output_mode": "content", "glob": "lib/**/*.ex"},
    {"pattern": "from\\(o in Order,.*?\\^user", "multiline": True, "output_mode": "content"},
    {"pattern": "end\\n\\nend|end\\n$", "multiline": True, "output_mode": "count"},
    {"pattern": "Repo\\.all", "path": "deps"},
    {"pattern": "Repo\\.all", "path": "lib/app/orders.ex", "output_mode": "content"},
    {"pattern": "Repo\\.all", "output_mode": "content", "head_limit": 3, "offset": 2},
    {"pattern": "Repo\\.all", "head_limit": 0},
    {"pattern": "Repo", "glob": "*.{ex,exs} !test/**"},
    {"pattern": "other$", "output_mode": "content"},
    {"pattern": "orders", "type": "sql", "output_mode": "content"},
    {"pattern": "nothing matches this", "output_mode": "content"},
    {"pattern": "y{50}", "output_mode": "content", "head_limit": 0},
    {"pattern": "^hit 1", "output_mode": "content", "-B": 1, "offset": 3, "head_limit": 7},
]


@needs_rg
@pytest.mark.parametrize("params", GREP_CASES, ids=lambda p: repr(p)[:60])
def test_grep_output_is_the_same_with_ripgrep_and_without(ctx, tree, params):
    assert Grep(backend="rg").run(params, ctx) == Grep(backend="python").run(params, ctx)


@pytest.fixture(params=["rg", "python"])
def grep(request):
    if request.param == "rg" and not HAVE_RG:
        pytest.skip("ripgrep (rg) is not installed")
    return Grep(backend=request.param)


def test_grep_files_with_matches_by_default(grep, ctx, tree):
    assert grep.run({"pattern": "Repo\\.all"}, ctx) == (
        "Found 6 files\n.formatter.exs\nbig.txt\ncrlf.ex\nlib/app/orders.ex\nlib/app-web/page.heex\n"
        "test/orders_test.exs")


def test_grep_content_and_count_modes(grep, ctx, tree):
    out = grep.run({"pattern": "Repo\\.all", "output_mode": "content", "path": "lib/app"}, ctx)
    assert out == "lib/app/orders.ex:4:    Repo.all(Order)\nlib/app/orders.ex:10:    |> Repo.all()"
    out = grep.run({"pattern": "Repo\\.all", "output_mode": "content", "path": "crlf.ex", "-n": False}, ctx)
    assert out == "crlf.ex:Repo.all(X)"
    out = grep.run({"pattern": "Repo\\.(all|get)", "output_mode": "count", "path": "lib"}, ctx)
    assert out == ("lib/app/orders.ex:2\nlib/app/users.ex:1\nlib/app-web/page.heex:1\n\n"
                   "Found 4 matching lines in 3 files.")


def test_grep_context_groups_are_separated(grep, ctx, tree):
    out = grep.run({"pattern": "Repo\\.all", "output_mode": "content", "-C": 1, "path": "lib/app/orders.ex"}, ctx)
    assert out == ("lib/app/orders.ex-3-  def list do\n"
                   "lib/app/orders.ex:4:    Repo.all(Order)\n"
                   "lib/app/orders.ex-5-  end\n"
                   "--\n"
                   "lib/app/orders.ex-9-      where: o.user_id == ^user.id)\n"
                   "lib/app/orders.ex:10:    |> Repo.all()\n"
                   "lib/app/orders.ex-11-  end")


def test_grep_multiline(grep, ctx, tree):
    out = grep.run({"pattern": "from\\(o in Order,\\s+where", "multiline": True, "output_mode": "content"}, ctx)
    assert out == ("lib/app/orders.ex:8:    from(o in Order,\n"
                   "lib/app/orders.ex:9:      where: o.user_id == ^user.id)")
    assert "multiline" in error_of(grep, {"pattern": "Order,\\n"}, ctx)


def test_grep_skips_binary_ignored_and_build_folders(grep, ctx, tree):
    out = grep.run({"pattern": "Repo\\.all", "head_limit": 0}, ctx)
    for skipped in ("assets/logo.png", "deps/", "_build/", "cover/"):
        assert skipped not in out
    assert ".formatter.exs" in out
    assert grep.run({"pattern": "Repo\\.all", "path": "deps"}, ctx) == "Found 1 file\ndeps/ecto/lib/repo.ex"


def test_grep_paging_and_head_limit(grep, ctx, tree):
    out = grep.run({"pattern": "Repo\\.all line", "output_mode": "content", "head_limit": 2, "offset": 5}, ctx)
    lines = out.split("\n")
    assert lines[0].startswith("big.txt:6:Repo.all line 5 ") and lines[1].startswith("big.txt:7:")
    assert "Showing results 6-7 of 400. Use offset=7 for more." in out
    default = grep.run({"pattern": "^hit", "output_mode": "content"}, ctx)
    assert "hits.txt:250:hit 249\n" in default and "hits.txt:251:" not in default
    assert default.endswith("(Showing results 1-250 of 300. Use offset=250 for more.)")
    assert grep.run({"pattern": "^hit", "output_mode": "content", "offset": 250}, ctx).endswith(
        "hits.txt:300:hit 299\n\n(Showing results 251-300 of 300.)")
    assert "No results past offset" in grep.run({"pattern": "Repo", "offset": 1000}, ctx)


def test_grep_caps_output_at_20000_characters(grep, ctx, tree):
    out = grep.run({"pattern": "Repo\\.all line", "output_mode": "content", "head_limit": 0}, ctx)
    assert len(out) <= 20_000
    shown = out.split("\n\n")[0].split("\n")
    assert shown[-1].startswith(f"big.txt:{len(shown)}:")
    assert out.endswith(f"[Output cut at 20,000 characters after result {len(shown)} of 400. Narrow the search "
                        f"(path, glob, type or a more specific pattern) or continue with offset={len(shown)}.]")


def test_grep_filters_by_glob_and_type(grep, ctx, tree):
    assert grep.run({"pattern": "Repo", "glob": "*.exs"}, ctx) == "Found 2 files\n.formatter.exs\ntest/orders_test.exs"
    assert grep.run({"pattern": "Repo", "type": "elixir", "glob": "!lib/**"}, ctx) == (
        "Found 3 files\n.formatter.exs\ncrlf.ex\ntest/orders_test.exs")
    assert grep.run({"pattern": "Repo", "type": "elixir", "path": "lib"}, ctx) == (
        "Found 3 files\nlib/app/orders.ex\nlib/app/users.ex\nlib/app-web/page.heex")
    assert grep.run({"pattern": "Repo", "type": "elixir", "glob": "!app"}, ctx) == (
        "Found 4 files\n.formatter.exs\ncrlf.ex\nlib/app-web/page.heex\ntest/orders_test.exs")
    assert grep.run({"pattern": "Repo", "path": "lib", "glob": "app/*.ex"}, ctx) == (
        "Found 2 files\nlib/app/orders.ex\nlib/app/users.ex")
    assert grep.run({"pattern": "Repo", "path": "lib", "glob": "!lib"}, ctx).startswith("Found 3 files")
    assert "unknown file type" in error_of(grep, {"pattern": "x", "type": "cobol"}, ctx)


def test_grep_invalid_regex_is_a_tool_error(grep, ctx, tree):
    assert "invalid regex" in error_of(grep, {"pattern": "Repo.all("}, ctx)


def test_grep_invalid_regex_is_reported_even_with_nothing_to_search(grep, ctx, root):
    assert "invalid regex" in error_of(grep, {"pattern": "(unclosed"}, ctx)


def test_grep_validates_parameters(ctx, tree):
    assert "needs `pattern`" in error_of(Grep(), {}, ctx)
    assert "output_mode" in error_of(Grep(), {"pattern": "x", "output_mode": "lines"}, ctx)
    assert "must be an integer" in error_of(Grep(), {"pattern": "x", "-C": "two"}, ctx)
    assert "does not exist" in error_of(Grep(), {"pattern": "x", "path": "nope"}, ctx)


def test_grep_falls_back_to_python_without_ripgrep(ctx, tree, monkeypatch):
    expected = Grep(backend="python").run({"pattern": "Repo\\.all", "output_mode": "content", "-C": 2}, ctx)
    monkeypatch.setenv("PATH", str(tree / "no-such-bin"))
    assert shutil.which("rg") is None
    assert Grep().run({"pattern": "Repo\\.all", "output_mode": "content", "-C": 2}, ctx) == expected


# --- schemas and descriptions ----------------------------------------------------------------

@pytest.mark.parametrize("tool", [Read(), Edit(), Write(), Grep(), Glob()])
def test_schemas_follow_claude_code(tool):
    schema = tool.input_schema
    assert schema["type"] == "object" and schema["required"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{tool.name}.{name} has no description"
    assert set(schema["required"]) <= set(schema["properties"])
    assert len(tool.description) > 200
    definition = tool.definition()
    assert definition["name"] == tool.name and definition["input_schema"] is schema


def test_schema_names_and_read_only_flags():
    assert Read.input_schema["required"] == ["file_path"]
    assert set(Edit.input_schema["properties"]) == {"file_path", "old_string", "new_string", "replace_all"}
    assert Write.input_schema["required"] == ["file_path", "content"]
    assert set(Grep.input_schema["properties"]) == {"pattern", "path", "glob", "type", "output_mode", "-i", "-n",
                                                   "-A", "-B", "-C", "multiline", "head_limit", "offset"}
    assert set(Glob.input_schema["properties"]) == {"pattern", "path"}
    assert (Read.read_only, Grep.read_only, Glob.read_only) == (True, True, True)
    assert (Edit.read_only, Write.read_only) == (False, False)
