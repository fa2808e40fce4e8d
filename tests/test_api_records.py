"""API pages parsed by Arrow's JSON reader give exactly the records orjson gives, or defer to it."""

from __future__ import annotations

import os

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.extract.api_records import ArrowRecords, Records, dict_records

PATHS = {"records_path": "data.records", "total_path": "data.total"}
EXAMPLES = 200 * (20 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 1)
FIELDS = ["SBLSH", "GXSJ", "ZTTS", "BJZT", "XZQHDM", "备注"]
STAMPS = ["2026-10-08 09:12:00", "2026-10-08", "2026-10-08T09:12:00", "2026/10/08 09:12", "2026年10月8日", ""]
VALUES = st.one_of(
    st.none(), st.booleans(), st.sampled_from(STAMPS), st.text(max_size=8),
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=2**63, max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.just({"nested": 1}), st.just([1, 2]),
)


KINDS = {"text": st.text(max_size=8), "stamp": st.sampled_from(STAMPS), "int": st.integers(-(2**63), 2**63 - 1),
         "bool": st.booleans(), "any": VALUES}


@st.composite
def api_pages(draw: st.DrawFn) -> list[list[dict]]:
    """Pages whose fields mostly keep one JSON type (as real exports do), some of any type at all."""
    kinds = draw(st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(list(KINDS)), min_size=1))
    record = st.fixed_dictionaries({}, optional={f: st.one_of(st.none(), KINDS[k]) for f, k in kinds.items()})
    return draw(st.lists(st.lists(record, max_size=6), min_size=1, max_size=3))


def _body(records: list, total: object = None) -> bytes:
    return orjson.dumps({"code": 0, "msg": "success", "data": {"total": total, "records": records}})


def _as_delivered(records: Records) -> tuple[list[dict], int | None]:
    names = list(records.table.column_names) if records.table is not None else \
        list(dict.fromkeys(k for r in records.dicts or [] for k in r))
    columns = {n: records.column(n) for n in names}
    return [{n: columns[n][i] for n in names} for i in range(len(records))], records.total


def _expected(records: list[dict]) -> list[dict]:
    names = list(dict.fromkeys(k for r in records for k in r))
    return [{n: r.get(n) for n in names} for r in records]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages=api_pages())
def test_arrow_reader_agrees_with_orjson_or_defers(pages: list[list[dict]]) -> None:
    reader = ArrowRecords(**PATHS)  # one reader over several pages, as one extractor run uses it
    for number, records in enumerate(pages):
        body = _body(records, total=len(records) + number)
        by_dicts = dict_records(body, **PATHS)
        by_arrow = reader.parse(body)
        if by_arrow is None:
            continue
        got, total = _as_delivered(by_arrow)
        assert total == by_dicts.total == len(records) + number
        assert [{k: v for k, v in r.items() if k in want} for r, want in zip(got, records, strict=True)] == records
        assert all(v is None for r, want in zip(got, records, strict=True) for k, v in r.items() if k not in want)
        frame = by_arrow.frame([True] * len(records))
        assert frame.astype(object).where(frame.notna(), None).to_dict("records") == got


def test_a_page_of_plain_records_is_read_by_arrow_and_its_stamps_stay_text() -> None:
    reader = ArrowRecords(**PATHS)
    first = [{"SBLSH": "1407022026", "GXSJ": "2026-10-08 09:12:00", "ZTTS": 3, "备注": "晋中"},
             {"SBLSH": "1407022027", "GXSJ": "2026-10-09 10:00:00", "ZTTS": None, "备注": None}]
    records = reader.parse(_body(first, total=2))
    assert records is not None and records.table is not None
    assert records.table.schema.field("GXSJ").type == pa.string()
    assert _as_delivered(records) == (first, 2)
    second = [{"SBLSH": "1407022028", "GXSJ": "not a time", "ZTTS": 1, "备注": "介休"}]
    again = reader.parse(_body(second, total=3))  # the field stays text on the next page, read in one pass
    assert again is not None and _as_delivered(again) == (second, 3)
    frame = again.frame([True])
    assert frame.to_dict("records") == second


@pytest.mark.parametrize(("records", "why"), [
    ([{"ID": "a", "N": 1}, {"ID": "b", "N": "two"}], "a field of mixed JSON types"),
    ([{"ID": "a", "N": 2**64 - 1}], "an integer past int64"),
    ([{"ID": "a", "N": 1.5}], "a float"),
    ([{"ID": "a", "N": {"x": 1}}], "a nested object"),
    ([], "no records"),
    ([{"ID": "a"}, None], "a null record"),
])
def test_what_arrow_cannot_read_exactly_goes_the_dict_way(records: list, why: str) -> None:
    body = _body(records, total=len(records))
    assert ArrowRecords(**PATHS).parse(body) is None, why
    by_dicts = dict_records(body, **PATHS)
    assert by_dicts.dicts == records and by_dicts.total == len(records)


def test_records_elsewhere_in_the_body_go_the_dict_way_which_names_the_path() -> None:
    body = orjson.dumps({"rows": [{"ID": "a"}]})
    assert ArrowRecords(**PATHS).parse(body) is None
    with pytest.raises(Exception, match="no records at JSON path 'data.records'"):
        dict_records(body, **PATHS)
    nested = ArrowRecords(records_path="result.page.rows", total_path="result.page.count")
    got = nested.parse(orjson.dumps({"result": {"page": {"count": 1, "rows": [{"ID": "a", "T": "2026-01-01"}]}}}))
    assert got is not None and _as_delivered(got) == ([{"ID": "a", "T": "2026-01-01"}], 1)


def test_only_the_kept_records_reach_the_frame() -> None:
    records = ArrowRecords(**PATHS).parse(_body([{"ID": "a"}, {"ID": "b"}, {"ID": "c"}]))
    assert records is not None and records.total is None
    assert records.frame([True, False, True])["ID"].tolist() == ["a", "c"]
