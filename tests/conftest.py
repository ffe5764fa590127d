"""Every results.json the tests write through lrdiag's writer validates against
``lrdiag schema results`` (issue 17): the writer is wrapped for the session, and a document that
does not validate fails the test that wrote it (unless marked ``made_up_results``: a unit test
of the writer on a document made up by hand)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from lrdiag import files, report
from lrdiag.schema import results_schema


@pytest.fixture(scope="session")
def results_validator() -> jsonschema.Draft202012Validator:
    schema = results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator: jsonschema.Draft202012Validator, doc) -> list[str]:
    """Each way ``doc`` breaks the schema, as "path: message" (empty when it validates)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "made_up_results: the test writes a made-up results document on purpose"
    )


_made_up = False  # the running test writes a made-up document on purpose


@pytest.fixture(autouse=True)
def _made_up_results(request):
    global _made_up
    _made_up = request.node.get_closest_marker("made_up_results") is not None
    yield
    _made_up = False


@pytest.fixture(scope="session", autouse=True)
def _results_json_validates(results_validator):
    """Session-wide, so that module-scoped fixtures' sweeps are validated too."""
    write = report.write_results

    def checked(doc, out_dir, *, json_doc=None):
        written = doc if json_doc is None else json_doc  # json_doc: its curves in a file
        errors = (
            []
            if _made_up
            else schema_errors(results_validator, json.loads(files.to_json_text(written)))
        )
        assert not errors, (
            "results.json does not validate against `lrdiag schema results` (describe the new "
            "layout in lrdiag/schema.py and bump results.SCHEMA_VERSION): " + "; ".join(errors[:5])
        )
        return write(doc, out_dir, json_doc=json_doc)

    report.write_results = checked
    yield
    report.write_results = write
