"""What each message costs in CPU: the cuts of issue 17 keep their behaviour (figures: benchmarks/chat_latency.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys

import numpy as np
from sqlalchemy import event, select

from core.db import Conversation, Customer, Message
from core.settings import Settings
from handoff import pending
from knowledge import live
from knowledge.catalog import Catalog
from knowledge.service import Knowledge, Snapshot, product_text
from techan import PROJECT_ROOT
from techan.rasa_process import LAUNCHER, rasa_executable
from tests.conftest import shared_models_dir
from tests.service.conftest import db_session
from tests.service.fake_rasa import use_fake_rasa
from web.keys import ENGINE

# In Rasa's own Python: the launcher's check of action server responses, against Rasa's, on good and bad ones.
ACTION_RESULTS = """
import json, sys
sys.argv = ['-']
import jsonschema.validators
from rasa.core.actions.action import RemoteAction
import runpy
launcher = runpy.run_path(%r)
schema_checks = []
for cls in set(jsonschema.validators._VALIDATORS.values()):
    original = cls.check_schema.__func__
    cls.check_schema = classmethod(lambda c, s, original=original: schema_checks.append(1) or original(c, s))
launcher['check_action_results_against_a_compiled_schema']()
action = RemoteAction('action_answer_question', None)
good = {'events': [{'event': 'slot', 'name': 'product', 'value': 'puer_ripe'}],
        'responses': [{'text': '普洱茶保质期', 'buttons': [{'title': 'a', 'payload': '/b'}]}]}
bad = [{'events': 'slot'}, {'responses': ['text']}, {'events': [{'event': 'no_such_event'}]}]
print(json.dumps({'good': [action._validate_action_result(good) for _ in range(3)],
                  'schema_checks_for_good': len(schema_checks)}))
for result in bad:
    try:
        action._validate_action_result(result)
        print(json.dumps({'bad': 'accepted'}))
    except jsonschema.ValidationError as error:
        print(json.dumps({'bad': error.message}))
"""


def test_rasa_checks_action_responses_without_checking_its_schema_each_time():
    """Rasa 3.6 checked its own schema against the meta-schema on every action call (~25 ms of CPU); the launcher
    compiles it once. Good responses pass with no schema check; bad ones fail with Rasa's own message."""
    result = subprocess.run([str(rasa_executable().with_name("python")), "-c", ACTION_RESULTS % str(LAUNCHER)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    first, *bad = [json.loads(line) for line in result.stdout.splitlines()]
    assert first == {"good": [True, True, True], "schema_checks_for_good": 0}
    assert len(bad) == 3
    for outcome in bad:
        assert outcome["bad"] != "accepted"
        assert "Failed to validate Action server response from API" in outcome["bad"]


def test_the_embedding_model_uses_the_threads_the_settings_give(tmp_path):
    """One thread by default: a second saves ~2 ms of a question's ~10 ms and spends ~60 % more CPU."""
    assert Settings(_env_file=None).embedding_threads == 1
    for threads in (1, 2):
        knowledge = Knowledge.from_settings(Settings(_env_file=None, data_dir=tmp_path, models_dir=shared_models_dir(),
                                                     embedding_threads=threads))
        assert knowledge.embedder.session.get_session_options().intra_op_num_threads == threads


# The serving process's share of the knowledge: loaded and asked, with the modules it then holds.
LOAD_AND_ASK = """
import sys
from core.settings import Settings
from knowledge.service import Knowledge
knowledge = Knowledge.from_settings(Settings(_env_file=None, data_dir=sys.argv[1], models_dir=sys.argv[2]))
print(knowledge.embedder.encode(["普洱茶保质期多久？"]).shape)
print(sorted(name for name in ("torch", "transformers", "sentence_transformers") if name in sys.modules))
"""


def test_the_embedding_model_runs_without_torch(tmp_path):
    """ONNX Runtime runs the model: the app's process never imports torch (~400 MB resident with transformers)."""
    done = subprocess.run([sys.executable, "-c", LOAD_AND_ASK, str(tmp_path), str(shared_models_dir())],
                          capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["(1, 384)", "[]"]


class CountingEmbedder:
    """The real embedder, with the texts of each call it gets written down."""

    def __init__(self, embedder) -> None:
        self.embedder, self.calls = embedder, []

    def __getattr__(self, name):
        return getattr(self.embedder, name)

    def encode(self, texts):
        self.calls.append(list(texts))
        return self.embedder.encode(texts)


def test_the_catalog_is_embedded_with_the_snapshot_not_on_a_customers_question(demo_knowledge, tmp_path):
    """A gift wish is scored against the catalog's vectors: embedded when a snapshot is applied (and kept on
    disk, so a restart or an edit embeds only what changed), never while customers wait — on the first gift
    request of a busy moment, every request at once embedded the whole catalog."""
    shared, snapshot = demo_knowledge
    products = snapshot.catalog.products
    counting = CountingEmbedder(shared.embedder)
    knowledge = Knowledge(counting, tmp_path / "vectors.npz")
    knowledge.apply(snapshot)
    embedded = [text for call in counting.calls for text in call]
    assert sorted(product_text(p) for p in products.values()) == sorted(t for t in embedded if t in {
        product_text(p) for p in products.values()})

    counting.calls.clear()
    wish = "送给爱喝茶的长辈"
    scores = knowledge.product_similarity(wish)
    assert counting.calls == [[wish]], "only the wish is embedded while the customer waits"
    expected = counting.embedder.encode([product_text(p) for p in products.values()]) @ counting.embedder.encode(
        [wish])[0]
    assert list(scores) == list(products)
    assert np.allclose(list(scores.values()), expected - expected.mean(), atol=1e-5)
    assert max(scores, key=scores.get) in {p.id for p in products.values() if p.category == "tea"}

    counting.calls.clear()
    first = next(iter(products.values()))
    edited = dataclasses.replace(first, description=first.description + " 新包装")
    restarted = Knowledge(counting, tmp_path / "vectors.npz")
    restarted.apply(Snapshot(snapshot.entries, Catalog({**products, first.id: edited}), snapshot.shipping))
    assert counting.calls == [[product_text(edited)]], "after a restart, only the edited product is embedded again"


async def test_a_customer_question_is_stored_acted_on_and_answered_in_few_statements(client, settings, monkeypatch):
    """The router acts on the message as it stored it (the conversation, customer and message as committed), not
    on the same rows read again: a returning customer's question costs the statements listed here, with the
    answer and both messages stored. The knowledge watch polls meanwhile (every few milliseconds here, so it
    surely does): its statements are the app's, not the message's."""
    use_fake_rasa(client.server.app)
    monkeypatch.setattr(live, "POLL_SECONDS", 0.005)
    await asyncio.sleep(0.6)  # the half-second sleep under way ends; the watch polls at the new pace
    first = await client.post("/api/chat/web-statements", json={"text": "你好"})
    assert first.status == 200, await first.text()
    statements: list[str] = []

    def note(_connection, _cursor, statement, *_args) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_name() == live.WATCH_TASK:
            return
        words = statement.split()  # the verb and the table: SELECT ... FROM t, INSERT INTO t, UPDATE t, DELETE FROM t
        table = words[words.index("FROM") + 1] if "FROM" in words else words[2 if words[0] == "INSERT" else 1]
        statements.append(f"{words[0]} {table}")

    def note_commit(_connection) -> None:
        statements.append("COMMIT")

    engine = client.server.app[ENGINE].sync_engine
    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine, "commit", note_commit)
    try:
        response = await client.post("/api/chat/web-statements", json={"text": "普洱茶保质期多久？"})
    finally:
        event.remove(engine, "before_cursor_execute", note)
        event.remove(engine, "commit", note_commit)
    body = await response.json()
    assert response.status == 200, body
    [answer] = body["replies"]
    assert "保质期" in answer["text"] or "年" in answer["text"]
    with db_session(settings) as session:
        rows = session.execute(select(Message.direction, Message.text, Message.delivery_status).join(Conversation)
                               .join(Customer).where(Customer.external_id == "web-statements")
                               .order_by(Message.id)).all()
    assert [tuple(row) for row in rows[-2:]] == [("in", "普洱茶保质期多久？", pending.HANDLED), ("out", answer["text"], "sent")]
    assert statements == [
        "SELECT customers",  # the web chat's identity check (handoff.channels.webchat.admit)
        "SELECT customers", "UPDATE customers", "SELECT conversations", "INSERT messages", "COMMIT",  # stored first
        "SELECT messages",  # earlier messages of the conversation still waiting for the bot (none)
        "COMMIT",  # nothing held across the bot's turn
        "SELECT conversations",  # staff may have taken the chat meanwhile
        "UPDATE conversations", "UPDATE messages", "INSERT messages", "COMMIT"]  # answered


# Long texts embedded together (an owner's import, a snapshot), then a question: what stays resident after.
BULK_THEN_ASK = """
import sys
from knowledge.index import Embedder
def resident_mb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
embedder = Embedder(sys.argv[1], "intfloat/multilingual-e5-small", threads=1)
embedder.encode(["普洱茶保质期多久？"])
before = resident_mb()
embedder.encode(["茶" * 600 + str(i) for i in range(8)])
embedder.encode(["普洱茶保质期多久？"])
print(resident_mb() - before)
"""


def test_a_run_of_many_texts_gives_its_working_memory_back():
    """Eight texts of 512 tokens take ~500 MB of attention working memory for one run; ONNX Runtime's arena kept
    it resident for good (after the demo KB, ~120 MB of the app's memory). A run of several texts now gives it
    back; a question alone keeps the arena it needs."""
    model = shared_models_dir() / "intfloat__multilingual-e5-small"
    done = subprocess.run([sys.executable, "-c", BULK_THEN_ASK, str(model)], capture_output=True, text=True,
                          timeout=300, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) < 100, f"{done.stdout.strip()} MB more resident after the run"
