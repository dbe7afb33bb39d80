"""The static N+1 scan: Repo reads per element of a collection, directly or one call deep, what
is deliberately not reported, the `scan-code` command, and the N+1 eval cases' projects."""

import json
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tools.errors import InputError
from tools.logs.scan import scan

CASES = Path(__file__).resolve().parent.parent / "evals" / "cases"


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return tmp_path


def found(tmp_path, source: str, name: str = "lib/app/thing.ex"):
    result = scan(project(tmp_path, {name: source}))
    return [(f.line, f.call, f.loop) for f in result.findings]


def test_repo_get_in_enum_map(tmp_path):
    assert found(tmp_path, """\
        defmodule App.Orders do
          alias App.Repo

          def list(orders) do
            Enum.map(orders, fn order ->
              %{order | customer: Repo.get!(Customer, order.customer_id)}
            end)
          end
        end
        """) == [(6, "Repo.get!", "Enum.map at line 5")]


@pytest.mark.parametrize("loop, line", [
    ("orders |> Enum.each(fn o -> Repo.preload(o, :items) end)", "Enum.each"),
    ("Enum.flat_map(orders, &Repo.all(Ecto.assoc(&1, :items)))", "Enum.flat_map"),
    ("Enum.reduce(orders, 0, fn o, acc -> acc + Repo.aggregate(Item, :count) end)", "Enum.reduce"),
    ("Stream.map(orders, fn o -> App.Repo.exists?(Item) end) |> Enum.to_list()", "Stream.map"),
    ("for o <- orders, do: Repo.one(from i in Item, where: i.order_id == ^o.id)", "for"),
    ("for o <- orders do\n    Repo.get_by(Item, order_id: o.id)\n  end", "for"),
    ("Task.async_stream(orders, fn o -> Repo.reload(o) end)", "Task.async_stream"),
])
def test_each_kind_of_loop(tmp_path, loop, line):
    source = f"defmodule App.X do\n  def run(orders) do\n    {loop}\n  end\nend\n"
    (finding,) = found(tmp_path, source)
    assert finding[2].startswith(line)


def test_one_call_deep_through_a_local_function_and_a_capture(tmp_path):
    findings = found(tmp_path, """\
        defmodule App.Posts do
          alias App.Repo

          def with_authors(posts), do: Enum.map(posts, &load_author/1)

          def with_counts(posts) do
            for post <- posts, do: {post, count_comments(post)}
          end

          defp load_author(post), do: %{post | author: Repo.get(User, post.author_id)}
          defp count_comments(post), do: Repo.aggregate(Ecto.assoc(post, :comments), :count)
        end
        """)
    assert findings == [
        (4, "load_author/1 (Repo.get at lib/app/thing.ex:10)", "Enum.map at line 4"),
        (7, "count_comments/1 (Repo.aggregate at lib/app/thing.ex:11)", "for at line 7"),
    ]


def test_one_call_deep_into_another_module_through_its_alias(tmp_path):
    result = scan(project(tmp_path, {
        "lib/app/accounts.ex": """\
            defmodule App.Accounts do
              alias App.Repo
              def get_user!(id), do: Repo.get!(App.User, id)
              def change_user(user), do: App.User.changeset(user, %{})
            end
            """,
        "lib/app_web/live/team_live.ex": """\
            defmodule AppWeb.TeamLive do
              alias App.Accounts

              def mount(_params, %{"ids" => ids}, socket) do
                users = Enum.map(ids, &Accounts.get_user!/1)
                forms = Enum.map(users, &Accounts.change_user/1)
                {:ok, assign(socket, users: users, forms: forms)}
              end
            end
            """}))
    (f,) = result.findings
    assert (f.file, f.line) == ("lib/app_web/live/team_live.ex", 5)
    assert f.call == "Accounts.get_user!/1 (Repo.get! at lib/app/accounts.ex:3)"
    assert "Repo.all(from x in User, where: x.id in ^values)" in f.fix and ":user" in f.fix


def test_a_recursive_walk_over_a_list(tmp_path):
    assert found(tmp_path, """\
        defmodule App.Tree do
          alias App.Repo
          def load([], acc), do: Enum.reverse(acc)
          def load([id | rest], acc), do: load(rest, [Repo.get!(Node, id) | acc])

          def paginate(cursor) do
            page = Repo.all(page_query(cursor))
            if page == [], do: :done, else: paginate(List.last(page).id)
          end
        end
        """) == [(4, "Repo.get!", "recursion load/2 at line 3")]


def test_a_recursion_over_a_literal_default_is_bounded_and_defaults_make_one_function(tmp_path):
    assert found(tmp_path, """\
        defmodule App.Eff do
          alias App.Repo
          def all(cars), do: for(car <- cars, do: derive(car))

          defp derive(car, opts \\\\ [{5, 8}, {4, 5}, {3, 3}])
          defp derive(car, []), do: car
          defp derive(car, [{precision, min} | rest]) do
            case Repo.one(query(car, precision)) do
              {_, n} when n >= min -> car
              _ -> derive(car, rest)
            end
          end
        end
        """) == [(3, "derive/1 (Repo.one at lib/app/thing.ex:8)", "for at line 3")]


def test_what_is_not_an_n_plus_one(tmp_path):
    assert found(tmp_path, """\
        defmodule App.Fine do
          alias App.Repo
          @kinds [:a, :b]

          def counts, do: Enum.map([:open, :closed], fn s -> Repo.aggregate(q(s), :count) end)
          def kinds, do: for(k <- @kinds, do: Repo.exists?(q(k)))
          def words, do: Enum.map(~w(a b c), &Repo.get_by(Tag, name: &1))
          def few, do: Enum.each(1..3, fn i -> Repo.get(Slot, i) end)
          def batched(ids), do: ids |> Enum.chunk_every(500) |> Enum.flat_map(&Repo.all(q(&1)))
          def once(items), do: Enum.reduce(items, Repo.all(Tag), fn i, acc -> [i | acc] end)
          def generator, do: for(t <- Repo.all(Tag), do: t.name)
          def writes(rows), do: Enum.each(rows, &Repo.insert!/1)
          def not_repo(items), do: Enum.map(items, &Cache.get(&1))
          def render(items), do: Enum.map(items, fn i -> i.name end)
        end
        """) == []


def test_nested_loops_report_the_innermost(tmp_path):
    assert found(tmp_path, """\
        defmodule App.Nest do
          def run(groups) do
            Enum.each(groups, fn g ->
              Enum.each(g.ids, fn id -> App.Repo.get(Item, id) end)
            end)
          end
        end
        """) == [(4, "App.Repo.get", "Enum.each at line 4")]


def test_tests_migrations_and_deps_are_not_scanned(tmp_path):
    loop = "defmodule M do\n  def f(xs), do: Enum.map(xs, &Repo.get(T, &1))\nend\n"
    result = scan(project(tmp_path, {"test/m_test.exs": loop, "priv/repo/seeds.exs": loop, "deps/x/lib/m.ex": loop,
                                     "_build/dev/m.ex": loop, "lib/m.ex": loop}))
    assert [f.file for f in result.findings] == ["lib/m.ex"]


def test_syntax_the_grammar_cannot_read_does_not_stop_the_scan(tmp_path):
    result = scan(project(tmp_path, {
        "lib/broken.ex": "defmodule B do\n  def f(xs), do: Enum.map(xs, &Repo.get(T, &1))\n  def g( do\nend\n",
        "lib/fine.ex": "defmodule F do\n  def f(xs), do: Enum.map(xs, &Repo.get(T, &1))\nend\n"}))
    assert "lib/broken.ex" in result.partial and "lib/fine.ex" in [f.file for f in result.findings]


def test_the_repo_get_case_project():
    (f,) = scan(CASES / "n-plus-one-repo-get" / "project").findings
    assert (f.file, f.line, f.call, f.loop) == ("lib/shop/orders.ex", 21, "Repo.get!", "Enum.map at line 20")
    assert "Customer" in f.fix


def test_the_preload_for_case_project():
    (f,) = scan(CASES / "n-plus-one-preload-for" / "project").findings
    assert (f.file, f.line, f.call, f.loop) == ("lib/tracker/boards.ex", 21, "Repo.preload", "for at line 20")
    assert "Repo.preload(records, cards: open_cards)" in f.fix


def test_cases_without_an_n_plus_one_are_clean():
    for case in ("fk-index-preload", "slow-query-pg-stat-statements"):
        assert scan(CASES / case / "project").findings == [], case


def cli():
    from agent.cli_evidence import register

    app = typer.Typer()
    register(app)
    return app


def test_scan_code_command(tmp_path):
    root = project(tmp_path, {"lib/m.ex": "defmodule M do\n  def f(xs), do: Enum.map(xs, &Repo.get(T, &1))\nend\n"})
    result = CliRunner().invoke(cli(), ["scan-code", str(root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["findings"]
    (f,) = data["findings"]
    assert list(f) == ["kind", "file", "line", "call", "loop", "fix"]
    assert (f["kind"], f["file"], f["line"], f["call"]) == ("n_plus_one", "lib/m.ex", 2, "Repo.get")
    text = CliRunner().invoke(cli(), ["scan-code", str(root)])
    assert "lib/m.ex:2: Repo.get inside Enum.map at line 2" in text.output
    missing = CliRunner().invoke(cli(), ["scan-code", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such directory" in missing.output


def test_scan_of_a_missing_directory_is_input_error(tmp_path):
    with pytest.raises(InputError):
        scan(tmp_path / "nope")
