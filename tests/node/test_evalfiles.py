import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from node.cli import main
from node.errors import BadRequest
from node.evalfiles import read_answers, read_judgments

DATA = Path(__file__).parents[1] / "data"
HEADER = "subset,pair_id,gold,judge,strategy,verdict_original,verdict_swapped\n"


def test_judgments_are_read_in_both_orders() -> None:
    t = read_judgments(DATA / "llmbar_excerpt.csv")
    assert set(t.judges) == {"GPT-4", "ChatGPT", "ChatGPT-0301", "PaLM2", "LLaMA2", "Falcon"}
    assert len(t.category_names) == 3
    # A swapped verdict of "1" (output_1 better) means the first shown (output_2) lost.
    swapped = t.first == 1
    assert swapped.any() and set(np.unique(t.outcome)) <= {0.0, 0.5, 1.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pair_id,gold\nx,1\n", "missing column"),
        (HEADER + "s,p,3,J,V,1,2\n", "gold must be 1 or 2"),
        (HEADER + "s,p,1,J,V,7,2\n", "verdict_original must be"),
        (HEADER + "s,p,1,J,V,1,2\ns,p,2,K,V,1,2\n", "two different gold labels"),
        (HEADER, "no rows"),
        (HEADER + "s,p,1,J,V,1\n", "wrong number of fields"),
    ],
)
def test_bad_judgment_files_are_refused_with_the_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "j.csv"
    path.write_text(text)
    with pytest.raises(BadRequest, match=message):
        read_judgments(path)


def test_bad_answer_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("question_id,category,gold,only\n1,math,A,A\n")
    with pytest.raises(BadRequest, match="at least two members"):
        read_answers(path)
    path.write_text("question_id,category,gold,m1,m2\n1,math,,A,B\n")
    with pytest.raises(BadRequest, match=r"a.csv:2: empty gold"):
        read_answers(path)
    path.write_bytes(b"question_id,category,gold,m1,m2\n1,math,A,\xff\xfe,B\n")
    with pytest.raises(BadRequest, match="UTF-8"):
        read_answers(path)


def test_cli_prints_one_json_object_with_the_required_methods() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["eval", "judges", str(DATA / "llmbar_excerpt.csv"), "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    # the excerpt's 434 pairs, less those of the calibration bank
    assert body["calibration_bank_left_out"] > 50
    assert body["items"] + body["calibration_bank_left_out"] == 434
    assert {"majority", "swarm", "best_single_hindsight"} <= set(body["methods"])
    assert body["calibration"]["fraction"] == 0.2
    out = runner.invoke(
        main, ["eval", "answers", str(DATA / "mmlupro_excerpt.csv"), "--json", "--swarms", "2"]
    )
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["items"] == 750 and body["swarms"]["count"] == 2
    assert {"majority", "swarm", "best_single_hindsight"} <= set(body["swarms"]["methods"])


def test_cli_bad_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("nothing,here\n1,2\n")
    out = CliRunner().invoke(main, ["eval", "judges", str(path)])
    assert out.exit_code == 1
    assert "missing column" in out.output and "Traceback" not in out.output


def test_cli_infers_topics_from_a_pairs_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    judged = str(DATA / "llmbar_excerpt.csv")
    pairs = DATA / "llmbar_instructions_excerpt.jsonl"
    out = CliRunner().invoke(
        main, ["eval", "judges", judged, "--pairs", str(pairs), "--topics", "4", "--json"]
    )
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert "swarm_inferred_topic" in body["methods"] and body["inferred_topics"] <= 4
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(pairs.read_text().splitlines()[:10]) + "\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"pair_id": "x", "input": "fine"}\n{"pair_id": 3}\n')
    for path, message in [(short, "no instruction for"), (broken, "broken.jsonl:2:")]:
        out = CliRunner().invoke(main, ["eval", "judges", judged, "--pairs", str(path)])
        assert out.exit_code == 1 and message in out.output, out.output
        assert "Traceback" not in out.output
