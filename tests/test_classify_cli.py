"""`monitor classify`: item kinds in the input, batch-by-batch streaming, one-line errors, a light start-up,
and the model file reader that start-up relies on (no skops import, each array read once)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from classifiers import model as model_mod
from classifiers.model import DEFAULT_MODEL, UntrustedModelError, load_state, save_state, trusted_types
from monitor.cli import main
from monitor.commands import core

REPO = Path(__file__).resolve().parents[1]


@dataclass
class FakeScores:
    misinformation: float
    harm: float = 0.0
    flagged: list[str] = field(default_factory=list)
    explanations: dict = field(default_factory=dict)
    rule_hits: list[dict] = field(default_factory=list)
    model_version: str = "fake-1"

    def to_dict(self) -> dict:
        return asdict(self)


class KindScorer:
    """Scores 0.9 what mentions 'tin giả', else 0.1; records every call's texts and kinds."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str] | None]] = []

    def score(self, texts: list[str], kinds: list[str] | None = None) -> list[FakeScores]:
        self.calls.append((list(texts), None if kinds is None else list(kinds)))
        return [FakeScores(0.9 if "tin giả" in text else 0.1) for text in texts]


@pytest.fixture()
def scorer(monkeypatch) -> KindScorer:
    fake = KindScorer()
    monkeypatch.setattr("monitor.scoring.load_scorer", lambda *args, **kwargs: fake)
    return fake


def classify(monkeypatch, stdin: str, *args: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["classify", *args])


def test_kinds_from_jsonl_default_to_post_and_reach_the_scorer(monkeypatch, capsys, scorer):
    stdin = "\n".join([
        json.dumps({"text": "Bài báo về tin giả", "kind": "article"}, ensure_ascii=False),
        json.dumps({"text": "Bình luận dưới bài", "kind": "comment"}, ensure_ascii=False),
        json.dumps({"text": "Bài đăng không ghi loại"}, ensure_ascii=False),
        "Dòng chữ thường",
        json.dumps({"text": "Bài đăng", "kind": "post"}, ensure_ascii=False),
    ]) + "\n"
    assert classify(monkeypatch, stdin, "--json") == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in results] == ["article", "comment", "post", "post", "post"]
    assert [r["text"] for r in results][3] == "Dòng chữ thường"
    assert results[0]["misinformation"] == 0.9 and results[1]["misinformation"] == 0.1
    assert scorer.calls == [([r["text"] for r in results], ["article", "comment", "post", "post", "post"])]


@pytest.mark.parametrize(("kind", "shown"), [("tweet", '"tweet"'), ("Article", '"Article"'), (3, "3"), (None, "null")])
def test_unknown_kind_is_one_line_naming_the_line_and_field(monkeypatch, capsys, kind, shown):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded when the first batch is bad")

    monkeypatch.setattr("monitor.scoring.load_scorer", no_model)
    stdin = '{"text": "một"}\n\n' + json.dumps({"text": "hai", "kind": kind}) + "\n"
    assert classify(monkeypatch, stdin, "--json") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: stdin line 3: field 'kind': unknown kind " + shown)
    assert "post, article, comment" in captured.err


def test_batches_are_printed_and_flushed_before_the_next_is_scored(monkeypatch, scorer):
    class Stdout(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.lines_at_flush: list[int] = []

        def flush(self) -> None:
            self.lines_at_flush.append(self.getvalue().count("\n"))

    out = Stdout()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr(core, "CLASSIFY_BATCH", 4)
    assert classify(monkeypatch, "".join(f"tin số {n}\n" for n in range(10)), "--json") == 0
    assert [len(texts) for texts, _ in scorer.calls] == [4, 4, 2]
    assert out.lines_at_flush[:3] == [4, 8, 10]  # each batch's results are out before the next is scored


def test_a_bad_line_after_good_batches_keeps_their_results(monkeypatch, capsys, scorer):
    monkeypatch.setattr(core, "CLASSIFY_BATCH", 2)
    assert classify(monkeypatch, "một\nhai\nba\n{not json\n", "--json") == 2
    captured = capsys.readouterr()
    assert [json.loads(line)["text"] for line in captured.out.splitlines()] == ["một", "hai"]
    assert captured.err == "error: stdin line 4: not valid JSON (Expecting property name enclosed in double quotes)\n"


def test_plain_output_shows_terms_given_as_dicts_or_strings(monkeypatch, capsys):
    class Explained(KindScorer):
        def score(self, texts, kinds=None):
            return [FakeScores(0.8, flagged=["misinformation"],
                               explanations={"misinformation": [{"term": "chia sẻ gấp", "contribution": 0.4}, "giấu"]},
                               rule_hits=[{"rule": "share-now"}]) for _ in texts]

    monkeypatch.setattr("monitor.scoring.load_scorer", lambda *args, **kwargs: Explained())
    assert classify(monkeypatch, "Chia sẻ gấp\n") == 0
    assert capsys.readouterr().out == ("misinformation=0.800 harm=0.000 flagged=misinformation"
                                       " | misinformation: chia sẻ gấp, giấu | rule share-now\n")


@pytest.mark.parametrize("content", [None, b"this is not a zip file"])
def test_a_model_file_that_cannot_be_read_is_one_line(monkeypatch, capsys, tmp_path, content):
    path = tmp_path / "model.skops"
    if content is not None:
        path.write_bytes(content)
    assert classify(monkeypatch, "một dòng\n", "--model", str(path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err


def run_python(code: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=stdin, capture_output=True,
                          text=True, cwd=REPO, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})


FAKE_SCORER_MAIN = """
    import sys
    from dataclasses import dataclass, asdict
    import monitor.scoring

    @dataclass
    class S:
        misinformation: float = 0.5
        harm: float = 0.0
        def to_dict(self):
            return asdict(self)

    class Fake:
        def score(self, texts, kinds=None):
            return [S() for _ in texts]

    monitor.scoring.load_scorer = lambda *args, **kwargs: Fake()
    from monitor.cli import main
    code = main(["classify", "--json"])
"""


def test_classify_imports_no_web_database_reports_or_skops():
    result = run_python(FAKE_SCORER_MAIN + """
    heavy = ["flask", "werkzeug", "matplotlib", "trafilatura", "apscheduler", "skops", "sqlite_utils", "db",
             "monitor.reports", "monitor.pipeline", "httpx", "bs4"]
    print("LOADED", sorted(name for name in heavy if name in sys.modules), file=sys.stderr)
    """, stdin='{"text": "một", "kind": "article"}\n')
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr
    assert json.loads(result.stdout)["kind"] == "article"


def test_status_imports_no_write_path():
    """`monitor status` reads the scheduler's health through monitor.service: importing it must not pull in
    the write path and its HTML parser (~0.2 s of `status`'s start-up; issue 17 §5)."""
    result = run_python("""
    import sys
    import monitor.service, monitor.status
    print("LOADED", sorted(name for name in ("monitor.pipeline", "bs4", "trafilatura") if name in sys.modules))
    """)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


def test_loading_a_model_file_does_not_import_skops():
    result = run_python("""
    import sys
    from classifiers.model import DEFAULT_MODEL, load_state
    state = load_state(DEFAULT_MODEL)
    print(sorted(state)[:3], "skops" in sys.modules or any(m.startswith("skops.") for m in sys.modules))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("False")


def test_each_line_is_answered_while_the_input_is_still_open():
    """A producer that sends one line and waits gets its answer before it sends more (or closes the pipe)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(FAKE_SCORER_MAIN) + "\nsys.exit(code)"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for n in range(3):
            proc.stdin.write(json.dumps({"text": f"dòng {n}"}, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["text"] == f"dòng {n}"  # would block until EOF without streaming
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


# -- the model file reader ---------------------------------------------------------------


def assert_same(a: object, b: object, where: str = "state") -> None:
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), where
    elif sp.issparse(a):
        assert a.format == b.format and (a != b).nnz == 0, where
    else:
        assert a == b, where


def test_reader_builds_exactly_what_skops_builds_for_the_shipped_model():
    import skops.io as sio

    assert_same(load_state(DEFAULT_MODEL), sio.load(str(DEFAULT_MODEL), trusted=[]))


def test_reader_round_trips_every_plain_type_save_state_writes(tmp_path):
    state = {
        "stack": {"harm": {"coef": [0.5, -1.25], "intercept": np.float64(0.75), "heads": ("a", "b")}},
        "heads": [{"name": "a", "row_start": 0}],
        "W": sp.csr_matrix(np.array([[0, 1.5], [2.0, 0]], dtype=np.float32)),
        "idf": np.arange(5, dtype=np.float16), "count": np.int64(7), "flag": np.bool_(True),
        "none": None, "ok": True, "n": 3, "name": "mô hình", "empty": {}, "same": [1, 1, 1],
    }
    path = tmp_path / "m.skops"
    save_state(state, path)
    assert trusted_types(path) == ["scipy.sparse._csr.csr_matrix"]
    assert_same(load_state(path), state)


def test_reader_refuses_a_foreign_type_without_importing_it(tmp_path):
    path = tmp_path / "m.skops"
    save_state({"stack": {}, "heads": [], "x": [1.0]}, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["x"] = {"__class__": "Evil", "__module__": "evil_module_never_imported", "__loader__": "ObjectNode",
                              "content": {}, "__id__": 1}
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    for load in (trusted_types, load_state, model_mod.load_model):
        with pytest.raises(UntrustedModelError, match=r"untrusted types \['evil_module_never_imported.Evil'\]"):
            load(path)
    assert "evil_module_never_imported" not in sys.modules


def test_reader_refuses_damaged_files(tmp_path):
    good = tmp_path / "good.skops"
    save_state({"stack": {}, "heads": [], "a": np.ones(1000)}, good)
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(good.read_bytes()[:-300])
    with pytest.raises(UntrustedModelError, match="not a classifier model file"):
        load_state(truncated)
    with zipfile.ZipFile(good) as archive:
        schema = json.loads(archive.read("schema.json"))
    schema["protocol"] = 99
    other = tmp_path / "other.skops"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    with pytest.raises(UntrustedModelError, match="skops protocol 99"):
        load_state(other)
