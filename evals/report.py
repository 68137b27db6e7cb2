"""Presenting a run: the per-category table on the terminal and a self-contained HTML page."""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console
from rich.table import Table

NONE = "(none)"


def print_tables(console: Console, report: dict[str, Any], failures: list[str]) -> None:
    """Per-category table, the metrics and the gates that failed."""
    table = Table(title="Eval results per category")
    for col in ("category", "scenarios", "passed", "pass rate", "root cause top-1"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for name, row in report["categories"].items():
        table.add_row(
            name,
            str(row["scenarios"]),
            str(row["passed"]),
            f"{row['pass_rate']:.2%}",
            f"{row['root_cause_top1']:.2%}" if row["with_cause"] else "-",
        )
    console.print(table)
    metrics = Table(title="Metrics")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key, value in report["metrics"].items():
        metrics.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(metrics)
    for line in failures:
        console.print(f"[red]gate failed:[/] {line}")


def confusion(report: dict[str, Any]) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    """Expected leaf (first expected cause) vs diagnosed leaf (top-1) counts."""
    cells: dict[tuple[str, str], int] = {}
    for r in report["scenarios"]:
        if not r["expected_causes"]:
            continue
        key = (r["expected_causes"][0], r["top1"] or NONE)
        cells[key] = cells.get(key, 0) + 1
    rows = sorted({k[0] for k in cells})
    cols = sorted({k[1] for k in cells} - {NONE}) + (
        [NONE] if any(k[1] == NONE for k in cells) else []
    )
    return rows, cols, cells


def confusion_svg(report: dict[str, Any]) -> str:
    """The confusion matrix as an inline SVG: rows expected, columns diagnosed."""
    rows, cols, cells = confusion(report)
    if not rows:
        return "<p>No scenario with an expected root cause.</p>"
    cell, left, top = 16, 260, 260
    width, height = left + cell * len(cols) + 10, top + cell * len(rows) + 10
    most = max(cells.values())
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="10">'
    ]
    for j, col in enumerate(cols):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x + 3},{top - 6}) rotate(-60)">{html.escape(col)}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell - 4}" text-anchor="end">{html.escape(row)}</text>'
        )
        for j, col in enumerate(cols):
            n = cells.get((row, col), 0)
            if n == 0:
                fill = "#f4f4f4"
            elif row == col:
                fill = f"rgba(30,140,60,{0.35 + 0.65 * n / most:.2f})"
            else:
                fill = f"rgba(200,40,40,{0.35 + 0.65 * n / most:.2f})"
            x = left + j * cell
            title = html.escape(f"expected {row}, diagnosed {col}: {n}")
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                f"<title>{title}</title></rect>"
            )
            if n:
                parts.append(
                    f'<text x="{x + cell / 2 - 0.5}" y="{y + cell - 5}" '
                    f'text-anchor="middle">{n}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def html_report(report: dict[str, Any], failures: list[str]) -> str:
    """A self-contained HTML page: metrics, gates, categories, confusion matrix, failures."""
    e = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>model-incident eval</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
        ".fail{color:#b00}.pass{color:#070}pre{background:#f6f6f6;padding:6px;white-space:pre-wrap}"
        "</style></head><body>",
        f"<h1>model-incident eval</h1><p>llm: {e(str(report['llm']))}; "
        f"{report['metrics']['scenarios']} scenarios in {report['seconds']} s</p>",
        "<h2>Metrics</h2><table>",
    ]
    out += [f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in report["metrics"].items()]
    out.append("</table>")
    if failures:
        out.append("<h2 class='fail'>Gates failed</h2><ul>")
        out += [f"<li>{e(f)}</li>" for f in failures]
        out.append("</ul>")
    else:
        out.append("<p class='pass'>All gates pass.</p>")
    out.append("<h2>Per category</h2><table><tr><th>category</th><th>scenarios</th>")
    out.append("<th>passed</th><th>pass rate</th><th>root cause top-1</th></tr>")
    for name, row in report["categories"].items():
        top1 = f"{row['root_cause_top1']:.2%}" if row["with_cause"] else "-"
        out.append(
            f"<tr><td>{e(name)}</td><td>{row['scenarios']}</td><td>{row['passed']}</td>"
            f"<td>{row['pass_rate']:.2%}</td><td>{top1}</td></tr>"
        )
    out.append("</table><h2>Confusion matrix (expected leaf vs diagnosed top-1)</h2>")
    out.append(confusion_svg(report))
    failed = [r for r in report["scenarios"] if not r["passed"]]
    out.append(f"<h2>Failures ({len(failed)})</h2>")
    for r in failed:
        out.append(f"<h3 class='fail'>{e(r['id'])} <small>({e(r['category'])})</small></h3>")
        out.append(f"<p>{e(r['path'])}</p><ul>")
        out += [
            f"<li>{e(c['name'])}: {e(c['verdict'])} {e(c['detail'])}</li>"
            for c in r["criteria"]
            if c["verdict"] == "fail"
        ]
        out.append("</ul>")
        if r.get("error"):
            out.append(f"<pre>{e(r['error'])}</pre>")
        out.append("<p>Path taken:</p><pre>" + e("\n".join(r["path_taken"]) or NONE) + "</pre>")
        out.append("<p>Evidence:</p><pre>" + e("\n".join(r["evidence"]) or NONE) + "</pre>")
    out.append("</body></html>")
    return "\n".join(out)
