"""The audit's HTML report opens in headless Chromium, offline, with no console
error: a summary, the plots, a section per round, and every finding linked to its
round."""

from reputation.audit import audit_log
from reputation.audit.html import write_report
from reputation.log import ConsensusLog
from tests.browser import open_page
from tests.reputation.audit.tamper import edit, entries


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
