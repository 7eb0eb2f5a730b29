"""The browser helper sees what a page does wrong: a console error and an uncaught
exception are both reported (so a report test that finds none means something)."""

from tests.browser import open_page


async def test_console_errors_and_exceptions_are_caught(tmp_path) -> None:
    page_file = tmp_path / "bad.html"
    page_file.write_text(
        "<!DOCTYPE html><title>t</title><p id=x>hi</p>"
        "<script>console.error('broken'); throw new Error('uncaught');</script>"
    )
    async with open_page(page_file.as_uri()) as page:
        assert await page.evaluate("document.getElementById('x').textContent") == "hi"
        assert len(page.errors) == 2 and "broken" in page.errors[0]
