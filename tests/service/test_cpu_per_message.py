"""What each message costs in CPU: the cuts of issue 17 keep their behaviour (figures: benchmarks/chat_latency.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from core.settings import Settings
from knowledge.service import Knowledge
from techan import PROJECT_ROOT
from techan.rasa_process import LAUNCHER, rasa_executable
from tests.conftest import shared_models_dir

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
