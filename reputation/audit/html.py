"""The audit's HTML report: one self-contained file that opens offline.

A summary comes first (the log, its owner, what was checked, clean or not, and
each finding linked to its round), then three plots (the candidates' scores, each
node's points over time by the reputation rules, the verification outcomes), then
one section per round: its candidates with scores and intervals, its judges with
their records and reliability, its verification outcomes with each verifier's
vote, its findings and its messages. Plots are matplotlib SVG inlined in the page
(text drawn as paths, so no font is fetched); there is no script and no external
resource.

Everything the report shows comes from the log, that is from the operator being
audited, so every value is escaped for where it goes (`_e`: text and attribute
values, quotes included); a round id goes into `id` and `href` attributes only
when it is a round id (`0x` and 64 lower-case hex digits), anything else is shown
as "an invalid round id" and anchored by a digest of it. Plot labels keep only
letters and digits (matplotlib reads `$...$` as TeX, and a bad one raises), and a
plot or a date that cannot be drawn is said so in the page: the report is always
written.
"""

import html
import io
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from eth_utils import keccak

from reputation.audit.findings import CHECKS, Finding
from reputation.audit.rounds import RoundAudit
from reputation.audit.tables import is_round_id
from reputation.rules import round_points

__all__ = ["render", "write_report"]

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;
text-align:left;font-size:90%}th{background:#f4f4f4}.clean{color:#176117}.unclean{color:#a31515}
code{font-size:85%}section.round{border-top:2px solid #ddd;margin-top:1.5em}
.finding{color:#a31515}.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0}
"""


def _e(value: Any) -> str:
    """`value` as text, safe in element content and in a quoted attribute value."""
    return html.escape(str(value), quote=True)


def _short(address: str | None) -> str:
    return "—" if not address else _e(str(address)[:10] + "…")


def _anchor(round_id: str | None) -> str:
    """The element id of a round's section: its id when it is a round id, else a
    digest of whatever it is (hex either way, so safe in `id` and `href`)."""
    if not round_id:
        return "summary"
    if is_round_id(round_id):
        return f"round-{round_id}"
    return "round-invalid-" + keccak(str(round_id).encode("utf-8", "replace")).hex()[:16]


def _rid(round_id: str | None, length: int = 66) -> str:
    """A round id to show: itself (escaped, shortened to `length`) when it is one."""
    if round_id is None:
        return "—"
    if not is_round_id(round_id):
        return "an invalid round id"
    return _e(round_id[:length]) + ("…" if length < len(round_id) else "")


def _label(node: str) -> str:
    """A plot label: the node's first characters, letters and digits only."""
    return re.sub(r"[^0-9A-Za-z]", "", str(node))[:8] or "?"


def _when(seconds: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + " UTC"
    except (ValueError, OverflowError, OSError):
        return "at an impossible time"


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _plots(rounds: list[RoundAudit]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "path"
    settled = [r for r in rounds if r.result is not None]
    figures = []
    fig, ax = plt.subplots(figsize=(4.5, 3))
    winners = [
        c.score
        for r in settled
        if r.result
        for c in r.result.candidates
        if c.candidate == r.result.winner.candidate
    ]
    others = [
        c.score
        for r in settled
        if r.result
        for c in r.result.candidates
        if c.candidate != r.result.winner.candidate
    ]
    ax.hist([winners, others], bins=20, label=["winners", "other candidates"], stacked=True)
    ax.set_xlabel("Bradley–Terry score")
    ax.set_ylabel("candidates")
    ax.legend()
    ax.set_title("Scores")
    figures.append(fig)
    fig, ax = plt.subplots(figsize=(4.5, 3))
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    totals: dict[str, float] = defaultdict(float)
    for r in sorted(settled, key=lambda r: r.time):
        assert r.result is not None
        for node, earned in round_points(r.result).items():
            totals[node] += earned
            series[node].append((r.time, totals[node]))
    start = min((r.time for r in settled), default=0.0)
    for node, points in sorted(series.items()):
        ax.step(
            [(t - start) / 60 for t, _ in points],
            [p for _, p in points],
            where="post",
            label=_label(node),
        )
    ax.set_xlabel("minutes since the first round")
    ax.set_ylabel("points (undecayed)")
    ax.set_title("Reputation by the rules")
    if series:
        ax.legend(fontsize=7)
    figures.append(fig)
    fig, ax = plt.subplots(figsize=(4.5, 3))
    counts = {"passed": 0, "failed": 0, "unverified": 0}
    for r in settled:
        assert r.result is not None
        for o in r.result.verification:
            counts[o.status] += 1
    ax.bar(list(counts), list(counts.values()), color=["#2a7", "#c33", "#999"])
    ax.set_ylabel("candidates verified")
    ax.set_title("Verification outcomes")
    figures.append(fig)
    out = "".join(f"<figure>{_svg(f)}</figure>" for f in figures)
    for f in figures:
        plt.close(f)
    return f'<div class="plots">{out}</div>'


def _plots_or_note(rounds: list[RoundAudit]) -> str:
    try:
        return _plots(rounds)
    except Exception as exc:  # numbers no plot can show (a NaN score, say)
        return f"<p>The plots cannot be drawn from these rounds: {_e(type(exc).__name__)}.</p>"


def _finding(f: Finding, sections: set[str] | None) -> str:
    """A finding; with `sections` (the rounds the report has a section of), its round
    is named, and linked to its section when there is one."""
    where = ""
    if sections is not None and f.round_id:
        where = f"round {_rid(f.round_id, 12)}"
        if f.round_id in sections:
            where = f'<a href="#{_e(_anchor(f.round_id))}">{where}</a>'
        where = " " + where
    seq = f" (entry {f.seq})" if f.seq is not None else ""
    return f'<li class="finding"><b>{_e(f.check)}</b>{where}{seq}: {_e(f.message)}</li>'


def _round(r: RoundAudit) -> str:
    parts = [
        f'<section class="round" id="{_e(_anchor(r.round_id))}">',
        f"<h3>Round <code>{_rid(r.round_id)}</code></h3>",
        f"<p>announced {_e(_when(r.time))} by <code>{_e(r.coordinator)}</code>; ",
    ]
    result = r.result
    if result is None:
        parts.append("no result (a failed round).</p>")
    else:
        topic = f"{result.topic_source}:{result.topic}" if result.topic_source else "none"
        parts.append(
            f"topic {_e(topic)}; decided by {_e(result.decided_by)}; winner candidate "
            f"{_e(result.winner.candidate)} ({_e(result.winner.verification)}).</p>"
        )
        status = {o.candidate: o.status for o in result.verification}
        parts.append(
            _table(
                ["candidate", "authors", "score", "95% interval", "verification"],
                [
                    [
                        ("<b>%d</b>" if c.candidate == result.winner.candidate else "%d")
                        % c.candidate,
                        " ".join(_short(n) for n in c.nodes),
                        f"{c.score:.3f} ± {c.stderr:.3f}",
                        f"[{c.interval[0]:.3f}, {c.interval[1]:.3f}]",
                        _e(status.get(c.candidate, "not checked")),
                    ]
                    for c in result.candidates
                ],
            )
        )
        parts.append(
            _table(
                ["judge", "verdicts", "record (agreed, disagreed)", "reliability η", "agreed now"],
                [
                    [
                        _short(j.node),
                        str(j.verdicts),
                        f"{j.prior[0]:.2f}, {j.prior[1]:.2f}",
                        f"{j.reliability:.3f}",
                        f"{j.agreed:.2f} of {j.agreed + j.disagreed:.2f}",
                    ]
                    for j in result.judges
                ],
            )
        )
        if result.verification:
            parts.append(
                _table(
                    ["candidate", "outcome", "methods", "votes"],
                    [
                        [
                            str(o.candidate),
                            _e(o.status),
                            _e(", ".join(o.methods)),
                            " ".join(
                                f"{_short(v.node)}: {'pass' if v.passed else 'fail'}"
                                + (f" ({_e(v.refused)})" if v.refused else "")
                                for v in o.verifiers
                            )
                            or "none",
                        ]
                        for o in result.verification
                    ],
                )
            )
    if r.findings:
        parts.append("<ul>" + "".join(_finding(f, None) for f in r.findings) + "</ul>")
    else:
        parts.append('<p class="clean">Recomputed: no discrepancy.</p>')
    for note in r.unchecked:
        parts.append(f"<p>Not checked: {_e(note)}</p>")
    rows = [
        [
            str(m.entry.seq),
            _e(m.entry.type),
            _short(m.entry.sender),
            f"<code>{_e(m.digest[:18])}…</code>",
        ]
        for m in r.messages
    ]
    listing = _table(["entry", "type", "sender", "digest"], rows)
    parts.append(f"<details><summary>{len(rows)} messages</summary>{listing}</details>")
    parts.append("</section>")
    return "".join(parts)


def render(report: Any) -> str:
    findings = report.all_findings()
    verdict = (
        '<p class="clean"><b>Clean</b>: every check held.</p>'
        if report.clean
        else f'<p class="unclean"><b>Not clean</b>: {len(findings)} findings.</p>'
    )
    counts: dict[str, int] = defaultdict(int)
    for f in findings:
        counts[f.check] += 1
    checks = _table(
        ["check", "what it asserts", "findings"],
        [[_e(k), _e(v), str(counts.get(k, 0))] for k, v in CHECKS.items()],
    )
    summary = _table(
        ["log", "owner", "messages", "rounds", "batches", "chain", "seconds"],
        [
            [
                f"<code>{_e(report.path)}</code>",
                f"<code>{_e(report.owner)}</code>",
                str(report.messages),
                str(len(report.rounds)),
                str(len(report.batches)),
                _e(report.chain or "not checked"),
                f"{report.seconds:.2f}",
            ]
        ],
    )
    sections = {r.round_id for r in report.rounds}
    listed = "".join(_finding(f, sections) for f in findings)
    listed = f"<ul>{listed}</ul>" if findings else ""
    body = "".join(_round(r) for r in report.rounds)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Audit of {_e(Path(report.path).name)}</title><style>{STYLE}</style></head>"
        f'<body><h1 id="summary">Consensus log audit</h1>{summary}{verdict}{listed}'
        f"<h2>Checks</h2>{checks}<h2>Plots</h2>{_plots_or_note(report.rounds)}"
        f"<h2>Rounds</h2>{body}</body></html>"
    )


def write_report(report: Any, path: Path) -> None:
    """Write the report; the file appears whole or not at all."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render(report), encoding="utf-8")
    tmp.replace(path)
