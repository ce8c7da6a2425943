"""Every verb and sub-verb of the command answers --help: exit 0, a usage line, a description that
teaches, and (for each top-level verb) an example to copy."""

from __future__ import annotations

import argparse

import pytest

from oddsline.cli.main import EXIT_CODES_HELP, build_parser, main


def _verbs(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found.extend(_verbs(sub, (*prefix, name)))
    return found


VERBS = _verbs(build_parser())


def test_every_verb_of_the_readme_is_there():
    top = {v[0] for v in VERBS}
    expected = {"train", "evaluate", "predict", "inspect", "spec", "registry", "keys", "sign", "validate"}
    expected |= {"retrain", "export", "serve", "monitor", "labels", "observe"}
    assert expected <= top
    assert len(VERBS) > len(top)  # the sub-verbs are walked too


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_help_of_every_verb(verb, capsys):
    with pytest.raises(SystemExit) as done:
        main([*verb, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: oddsline " + " ".join(verb))
    body = text.split("\n\n", 2)
    assert len(body) >= 2 and len(text) > 200, text
    if len(verb) == 1:
        assert "Example" in text or "example" in text, f"oddsline {verb[0]} --help shows no example"


def test_top_level_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert EXIT_CODES_HELP.split(":")[0] in out and "70 an internal error" in out


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["registry", "rollback", "churn", "champion"], "oddsline registry rollback"),
        (["inspect", "m.odl", "x"], "oddsline inspect"),
    ],
)
def test_a_stray_argument_is_reported_by_the_command_it_was_given_to(argv, command, capsys):
    """It was "oddsline: error: unrecognized arguments" (the top-level parser), naming no command."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert f"{command}: error: unrecognized arguments: {argv[-1]} (see {command} --help)" in capsys.readouterr().err
