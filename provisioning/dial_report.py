"""Figures over several dialled calls (min/median/max) and the HTML report a supervisor opens.

The report is one self-contained file: no script, no external style or font; a table per call and a timeline
(inline SVG: what the box said as bars, the keys as ticks) so slow answers or long gaps are seen at a glance.
The password heard is shown masked (first and last character), as everywhere the box's own tools show secrets.
"""
from __future__ import annotations

import html
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import ProvisioningError
from .dial_transcript import Transcript

FIGURES = ("answer_s", "verdict_after_key_s", "duration_s")
ROW_H = 22
SCALE = 12.0  # pixels per second of call
LEFT = 70


def figures(calls: Sequence[Transcript]) -> dict[str, Any]:
    """min/median/max of each figure over the calls that have it, and how many calls ended each way."""
    stats: dict[str, Any] = {"outcomes": dict(Counter(call.summary["outcome"] for call in calls))}
    for name in FIGURES:
        values = [call.summary[name] for call in calls if call.summary.get(name) is not None]
        if values:
            stats[name] = {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
                           "max": round(max(values), 3), "n": len(values)}
    agree = [call.summary["readings_agree"] for call in calls if "readings_agree" in call.summary]
    if agree:
        stats["readings_agree"] = f"{sum(agree)}/{len(agree)}"
    return stats


def _mask(password: str) -> str:
    return password[:1] + "*" * max(0, len(password) - 2) + password[-1:] if len(password) > 2 else "*" * len(password)


def _timeline(calls: Sequence[Transcript]) -> str:
    longest = max((call.summary["duration_s"] for call in calls), default=1.0)
    width = LEFT + int(longest * SCALE) + 20
    height = ROW_H * len(calls) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']
    for second in range(0, int(longest) + 1, 5):
        x = LEFT + second * SCALE
        parts.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{height - 20}" stroke="#ddd"/>'
                     f'<text x="{x}" y="{height - 6}" text-anchor="middle">{second}s</text>')
    for row, call in enumerate(calls):
        y = row * ROW_H + 4
        parts.append(f'<text x="4" y="{y + 13}">call {call.summary.get("call", row + 1)}</text>')
        for event in call.events:
            x = LEFT + max(0.0, event["t"]) * SCALE
            if "key" in event:
                parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + ROW_H - 6}" stroke="#c00" '
                             f'stroke-width="2"><title>key {html.escape(event["key"])} at {event["t"]} s</title></line>')
                continue
            w = max(1.0, (event["until"] - event["t"]) * SCALE)
            colour = "#999" if event["say"] == "?" else "#e8a33d" if event.get("cut") else \
                "#4a7dbf" if len(event["say"]) > 3 else "#6bb36b"
            label = "unrecognised sound" if event["say"] == "?" else html.escape(event["text"] or event["say"])
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW_H - 6}" fill="{colour}">'
                         f'<title>{event["t"]} s: {label}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _call_table(call: Transcript) -> str:
    s = call.summary
    rows = [("outcome", s["outcome"]), ("caller", s["caller"]), ("keys", s["keys"]),
            ("time to answer", f"{s['answer_s']} s"), ("last key to verdict", f"{s['verdict_after_key_s']} s"),
            ("duration", f"{s['duration_s']} s"), ("box hung up", "yes" if s["box_hung_up"] else "no")]
    if "password_heard" in s:
        rows.append(("password heard", " / ".join(_mask(p) for p in s["password_heard"])
                     + (" (agree)" if s["readings_agree"] else " (DIFFER)")))
    heard = "".join(f"<tr><td>{e['t']:.2f}</td><td>{html.escape(e.get('key') and 'key ' + e['key'] or e['say'])}</td>"
                    f"<td>{html.escape(e.get('text', ''))}{' (cut)' if e.get('cut') else ''}</td></tr>"
                    for e in call.events)
    summary = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return (f"<h2>Call {s.get('call', '')}</h2><table>{summary}</table>"
            f"<details><summary>what was heard</summary><table><tr><th>t (s)</th><th>what</th><th>text</th></tr>"
            f"{heard}</table></details>")


def render(calls: Sequence[Transcript], title: str) -> str:
    stats = figures(calls)
    fig_rows = "".join(f"<tr><th>{name}</th><td>{v['min']}</td><td>{v['median']}</td><td>{v['max']}</td></tr>"
                       for name, v in stats.items() if isinstance(v, dict) and "median" in v)
    outcomes = ", ".join(f"{html.escape(k)}: {v}" for k, v in stats["outcomes"].items())
    style = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{len(calls)} call(s); outcomes: {outcomes}</p>"
            f"<table><tr><th>figure (s)</th><th>min</th><th>median</th><th>max</th></tr>{fig_rows}</table>"
            f"<h2>Timeline</h2><p>blue: a sentence, green: a password character, orange: cut short, grey: not "
            f"recognised, red: a key</p>{_timeline(calls)}"
            + "".join(_call_table(call) for call in calls) + "</body></html>\n")


def write_report(path: Path, calls: Sequence[Transcript], title: str) -> None:
    text = render(calls, title)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProvisioningError(f"cannot write the report {path}: {exc.strerror or exc}") from exc
