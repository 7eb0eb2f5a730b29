"""The audit's HTML report opens in headless Chromium, offline, with no console
error: a summary, the plots, a section per round, and every finding linked to its
round."""

import sqlite3

from reputation.audit import audit_log
from reputation.audit.html import write_report
from reputation.envelope import sign_envelope
from reputation.log import ConsensusLog
from tests.browser import open_page
from tests.reputation.audit.tamper import edit, entries, set_raw


async def test_the_report_renders_offline_with_no_console_error(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    rid = logged.round_ids[5]
    (seq, _), *_ = entries(db, "answer", rid)
    edit(db, seq, lambda m: m["payload"].update(text="Forged."), rebuild=True)
    log = ConsensusLog(db, readonly=True)
    try:
        report = audit_log(log)
    finally:
        log.close()
    assert not report.clean
    path = tmp_path / "report.html"
    write_report(report, path)
    text = path.read_text()
    assert not any(tag in text for tag in ("<script", "<link", " src=", "url(http"))  # offline
    async with open_page(path.as_uri()) as page:
        assert await page.evaluate("document.querySelectorAll('section.round').length") == len(
            report.rounds
        )
        assert await page.evaluate("document.querySelectorAll('.plots svg').length") == 3
        assert await page.evaluate("document.querySelector('.unclean') !== null")
        links = await page.evaluate(
            "[...document.querySelectorAll('li.finding a')].map(a => a.getAttribute('href'))"
        )
        assert f"#round-{rid}" in links
        assert await page.evaluate(
            "[...document.querySelectorAll('a[href^=\"#\"]')]"
            ".every(a => document.getElementById(a.getAttribute('href').slice(1)))"
        )
        shown = await page.evaluate(
            f"document.getElementById('round-{rid}').querySelector('.finding').textContent"
        )
        assert "signature" in shown or "candidates" in shown
        assert await page.evaluate("document.body.getBoundingClientRect().height") > 1000
        assert page.errors == []


MARKUP = (
    '0x"><img src=x onerror="window.pwned=1;'
    "document.querySelector('.unclean').textContent='Clean: every check held.'\">"
)
"""A round id that, written raw into an attribute, runs a script turning the verdict."""


def _resign(db, seq: int, message: dict, key, round_id: str | None = None, **payload) -> None:
    signed = sign_envelope(
        key,
        message["type"],
        message["round_id"] if round_id is None else round_id,
        {**message["payload"], **payload},
        timestamp=message["timestamp"],
    )
    set_raw(db, seq, signed, rebuild=True)


async def test_markup_in_the_log_runs_no_script_in_the_report(logged, tmp_path) -> None:
    """The owner signs an announcement whose round id is markup and a result whose
    topic is, and a column names a sender in markup: the report shows them as text,
    runs nothing, loads nothing, and still says "Not clean"."""
    db = logged.copy(tmp_path)
    key = logged.swarm.nodes[0].ctx.account
    ((seq, announce),) = entries(db, "announce", logged.round_ids[1])
    _resign(db, seq, announce, key, round_id=MARKUP)
    ((seq, result),) = entries(db, "result", logged.round_ids[2])
    _resign(db, seq, result, key, topic='<script>window.pwned=2</script>"><b onclick=x>')
    (seq, _), *_ = entries(db, "answer", logged.round_ids[3])
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE messages SET sender = ? WHERE seq = ?",
            ['"><svg onload=window.pwned=3>', seq],
        )
    log = ConsensusLog(db, readonly=True)
    try:
        report = audit_log(log)
    finally:
        log.close()
    path = tmp_path / "report.html"
    write_report(report, path)
    text = path.read_text()
    assert "<img" not in text and "<script" not in text and "<svg onload" not in text
    async with open_page(path.as_uri()) as page:
        assert await page.evaluate("typeof window.pwned") == "undefined"
        assert (
            await page.evaluate("document.querySelectorAll('img, script, b[onclick]').length") == 0
        )
        verdict = await page.evaluate("document.querySelector('.unclean').textContent")
        assert verdict.startswith("Not clean"), verdict
        assert await page.evaluate("document.querySelector('.clean b') === null")
        assert await page.evaluate(
            "[...document.querySelectorAll('a[href^=\"#\"]')]"
            ".every(a => document.getElementById(a.getAttribute('href').slice(1)))"
        )
        assert page.errors == []


def test_node_names_that_read_as_tex_still_give_a_report(logged, tmp_path) -> None:
    """matplotlib reads `$...$` in a label as TeX and raised on a bad one: the report
    was not written at all."""
    db = logged.copy(tmp_path)
    key = logged.swarm.nodes[0].ctx.account
    ((seq, result),) = entries(db, "result", logged.round_ids[4])
    judges = [{**j, "node": "$\\f{$" + j["node"]} for j in result["payload"]["judges"]]
    _resign(db, seq, result, key, judges=judges)
    log = ConsensusLog(db, readonly=True)
    try:
        report = audit_log(log)
    finally:
        log.close()
    path = tmp_path / "report.html"
    write_report(report, path)
    assert "Not clean" in path.read_text()
