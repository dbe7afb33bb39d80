import datetime as dt
from decimal import Decimal

import pytest
from psycopg.types.json import Jsonb

from tools.errors import InputError
from tools.explain.params import parse_params, split_logged_query


def test_ecto_logged_params_read_into_bindable_values():
    values = parse_params('[42, "a@b.c", true, nil, ~U[2024-05-01 12:00:00Z], ~N[2024-05-01 12:00:00], '
                          'Decimal.new("9.99"), [1, 2, 3]]')
    assert values[:4] == [42, "a@b.c", True, None]
    assert values[4] == dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    assert values[5] == dt.datetime(2024, 5, 1, 12) and values[5].tzinfo is None
    assert values[6] == Decimal("9.99")
    assert values[7] == [1, 2, 3]


def test_less_common_inspect_forms():
    values = parse_params('[:published, %{"k" => 1, "n" => [true]}, <<0, 1, 255>>, #Decimal<1.5>, '
                          '~D[2024-01-02], ~T[12:30:00], -3.5e2, "say \\"hi\\"", ~U[2024-05-01 12:00:00.123456Z]]')
    assert values[0] == "published"
    assert isinstance(values[1], Jsonb) and values[1].obj == {"k": 1, "n": [True]}
    assert values[2] == b"\x00\x01\xff"
    assert values[3] == Decimal("1.5")
    assert values[4] == dt.date(2024, 1, 2)
    assert values[5] == dt.time(12, 30)
    assert values[6] == -350.0
    assert values[7] == 'say "hi"'
    assert values[8].microsecond == 123456


def test_json_list_params():
    assert parse_params('[42, "x", null, {"a": 1}]')[:3] == [42, "x", None]
    assert parse_params(None) is None
    assert parse_params("  ") is None


@pytest.mark.parametrize("bad, fragment", [
    ("[1, 2", "expected ']'"),
    ("[1, ...]", "truncated"),
    ("[[1, 2, ...]]", "truncated"),
    ("[~U[garbage]]", "invalid ~U"),
    ('{"a": 1}', "must be a list"),
    ("[foo]", "not a value"),
])
def test_bad_params_are_one_clear_line(bad, fragment):
    with pytest.raises(InputError) as exc:
        parse_params(bad)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_split_logged_query_line():
    sql, params = split_logged_query('SELECT c0."id" FROM "comments" AS c0 WHERE (c0."post_id" = ANY($1)) '
                                     'ORDER BY c0."post_id" [[1, 2, 3]]')
    assert sql.endswith('ORDER BY c0."post_id"')
    assert parse_params(params) == [[1, 2, 3]]
    # Plain SQL that happens to end in a bracket is left alone.
    assert split_logged_query("SELECT a[1] FROM t") == ("SELECT a[1] FROM t", None)
