"""Starts `rasa run` for the app. Runs in Rasa's own environment (``.venv-rasa``, Python 3.10) as a script, so it
imports nothing of the app: only the standard library, Rasa and Rasa's jsonschema.

- The API token comes from a 0600 file (``--auth-token-file``): `rasa run` takes it only as an argument, which
  `ps` shows to every user of the machine.
- Each action server response is checked against Rasa's schema compiled once. Rasa 3.6 calls
  ``jsonschema.validate`` per response, which first checks the schema itself against the 2020-12 meta-schema:
  ~25 ms of CPU per action call, where checking the response alone takes under 1 ms. A response that fails
  goes to Rasa's own check, so its error and message stay Rasa's.
"""

from __future__ import annotations

import sys
from pathlib import Path


def token_from_file(args: list[str]) -> list[str]:
    """``--auth-token-file F`` becomes ``--auth-token <F's text>``, inside this process only."""
    at = args.index("--auth-token-file")
    return [*args[:at], "--auth-token", Path(args[at + 1]).read_text().strip(), *args[at + 2:]]


def check_action_results_against_a_compiled_schema() -> None:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator = validators.validator_for(schema)(schema)
    rasas_own_check = RemoteAction._validate_action_result

    def validate_action_result(self, result: dict) -> bool:
        if validator.is_valid(result):
            return True
        return rasas_own_check(self, result)  # raises, with Rasa's message

    RemoteAction._validate_action_result = validate_action_result


def main() -> None:
    sys.path[0] = ""  # as under `python -c`: the working directory, not this folder (techan/'s modules stay unseen)
    sys.argv = token_from_file(sys.argv[1:])
    check_action_results_against_a_compiled_schema()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
