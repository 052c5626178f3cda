"""Import/export round trips lose nothing, whatever odd text owners type."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.files import TOPICS, KBEntryIn, read_kb_file, write_kb_csv, write_yaml

ODD_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85") | st.sampled_from(
    list("？！，。（）【】《》＃＄％🍵😀🧧<>&\"'\\{}|:- "))
ODD = st.one_of(
    st.text(alphabet=ODD_CHARS, min_size=1, max_size=60),
    st.just("<script>alert(1)</script><img src=x onerror=alert(2)>"),
).map(str.strip).filter(bool)

ENTRY = st.builds(
    KBEntryIn,
    id=st.from_regex(r"[a-z0-9][a-z0-9\-]{0,20}", fullmatch=True),
    topic=st.sampled_from(TOPICS),
    product=st.sampled_from(["", "puer-raw-cake", "beef-jerky"]),
    questions=st.lists(ODD, min_size=1, max_size=4),
    answer=st.one_of(ODD, st.text(min_size=2000, max_size=6000).map(str.strip).filter(bool)),
    answer_en=st.one_of(st.just(""), ODD),
    tags=st.lists(st.from_regex(r"[a-z\u4e00-\u9fa5]{1,6}", fullmatch=True), max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ENTRY, min_size=1, max_size=5, unique_by=lambda e: e.id))
def test_yaml_round_trip_is_exact(entries):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kb.yml"
        write_yaml(path, "entries", entries)
        assert read_kb_file(path) == entries


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ENTRY, min_size=1, max_size=5, unique_by=lambda e: e.id))
def test_csv_round_trip_is_exact_or_refused_clearly(entries):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kb.csv"
        if any("|" in q for e in entries for q in e.questions):
            try:
                write_kb_csv(path, entries)
            except ValueError as exc:
                assert "export as YAML" in str(exc)
                return
            raise AssertionError("a '|' in a question must not be silently split")
        write_kb_csv(path, entries)
        assert read_kb_file(path) == entries
