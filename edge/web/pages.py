"""The page's HTML: the four views rendered from the data of `edge.web.data`.

Strategy: plain functions returning text, every value from the store or the status passed
through `html.escape` (`_e`), one small stylesheet and one small script served by the gateway
itself (no CDN: the LAN may have no internet). Numbers keep their exact integers (W, Wh); kWh
are formatted from them with integer arithmetic.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

from edge.web.svg import Bar, bars

NAV = (("/", "Now"), ("/day", "Day"), ("/month", "Month"), ("/privacy", "Privacy"))


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def kwh(wh: int | None) -> str:
    """Exact Wh as kWh with three decimals ("-" when unknown)."""
    if wh is None:
        return "-"
    sign = "-" if wh < 0 else ""
    return f"{sign}{abs(wh) // 1000}.{abs(wh) % 1000:03d}"


def watts(w: object) -> str:
    return f"{w} W" if isinstance(w, int) else "-"


def layout(title: str, active: str, body: str, *, csrf: str = "", logged_in: bool = False) -> str:
    """The frame of every page: head, navigation, body."""
    links = "".join(
        f'<a href="{href}"{" class=on" if href == active else ""}>{name}</a>' for href, name in NAV
    )
    logout = (
        f'<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" '
        f'value="{_e(csrf)}"><button>Log out</button></form>'
        if logged_in
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · P1 gateway</title>"
        '<link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script>'
        f"</head><body><header><nav>{links}</nav>{logout}</header><main>{body}</main></body></html>"
    )


def point_picker(path: str, points: list[dict[str, Any]], ap: str, extra: dict[str, str]) -> str:
    items = []
    for p in points:
        query = urlencode({"ap": p["ap"], **extra})
        label = _e(p["name"] or p["role"]) + f" <small>{_e(p['ap'])}</small>"
        on = ' class="on"' if p["ap"] == ap else ""
        items.append(f'<a{on} href="{path}?{query}">{label}</a>')
    return f'<p class="points">{"".join(items)}</p>'


def now_page(data: dict[str, Any]) -> str:
    cards = []
    for p in data["points"]:
        ap = _e(p["ap"])
        warn = " warn" if p["peak_warning"] else ""

        def cell(key: str, label: str, value: str, ap: str = ap) -> str:
            return f'<div><span>{label}</span><b data-live="{ap}:{key}">{value}</b></div>'

        cards.append(
            f'<section class="card{warn}" data-ap="{ap}"><h2>{_e(p["name"] or p["role"])} '
            f'<small>{ap}</small> <em class="state" data-live="{ap}:state">'
            f"{_e(p['state'])}</em></h2>"
            '<div class="grid">'
            + cell("power_import_w", "Import now", watts(p["power_import_w"]))
            + cell("power_export_w", "Export now", watts(p["power_export_w"]))
            + cell("quarter_average_w", "This quarter's average", watts(p["quarter_average_w"]))
            + cell("month_peak_w", f"Peak of {_e(p['month'])}", watts(p["month_peak_w"]))
            + "</div>"
            + f'<p class="peakwarn" data-live="{ap}:peak_warning">'
            + (
                "Peak warning: this quarter is heading for a new monthly peak"
                if p["peak_warning"]
                else ""
            )
            + "</p>"
            + f'<p class="meta">meter time <span data-live="{ap}:time">'
            f"{_e(p['time'] or '-')}</span></p>"
            "</section>"
        )
    state = (
        ""
        if data["running"]
        else '<p class="banner">The agent is not running: last values shown.</p>'
    )
    return f'<h1>Now</h1>{state}<div id="now" data-poll="/api/now.json">{"".join(cards)}</div>'


def day_page(data: dict[str, Any], points: list[dict[str, Any]]) -> str:
    ap, day = data["ap"], data["day"]
    items = []
    for index, q in enumerate(data["quarters"]):
        title = (
            f"{q['local']} {q['status']}: import {_wh(q['import_wh'])}, "
            f"export {_wh(q['export_wh'])}"
        )
        items.append(
            Bar(
                q["local"],
                q["import_wh"],
                q["export_wh"],
                q["status"],
                title,
                (
                    ("start", q["start_utc"]),
                    ("status", q["status"]),
                    ("import-wh", _num(q["import_wh"])),
                    ("export-wh", _num(q["export_wh"])),
                ),
                tick=q["local"] if index % 12 == 0 else "",
            )
        )
    counts = data["counts"]
    tariffs = data["tariff_wh"]
    nav = (
        f'<div class="daynav"><a href="/day?{urlencode({"ap": ap, "day": data["previous"]})}">'
        f"‹ {_e(data['previous'])}</a>"
        f'<form method="get" action="/day"><input type="hidden" name="ap" value="{_e(ap)}">'
        f'<input type="date" name="day" value="{_e(day)}"><button>Show</button></form>'
        f'<a href="/day?{urlencode({"ap": ap, "day": data["next"]})}">'
        f"{_e(data['next'])} ›</a></div>"
    )
    csv = urlencode({"ap": ap, "day": day})
    return (
        f"<h1>Day {_e(day)}</h1>"
        + point_picker("/day", points, ap, {"day": day})
        + nav
        + bars("daychart", items, "Wh")
        + '<p class="legend"><i class="k-in"></i>import <i class="k-out"></i>export '
        '<i class="k-interp"></i>interpolated <i class="k-gap"></i>missing</p>'
        + f"<p>{counts['measured']} measured, {counts['interpolated']} interpolated, "
        f"{counts['missing']} missing quarter-hours</p>"
        + '<table class="tariffs"><tr><th></th><th>tariff 1</th><th>tariff 2</th><th>'
        "total</th></tr>"
        + _tariff_row("Import kWh", tariffs["import_t1"], tariffs["import_t2"])
        + _tariff_row("Export kWh", tariffs["export_t1"], tariffs["export_t2"])
        + "</table>"
        + f'<p class="downloads"><a href="/download/day.csv?{csv}" download>Quarter-hours '
        "(CSV)</a> "
        f'<a href="/download/day.csv?{csv}&amp;rows=boundaries" download>Boundary readings '
        "(CSV)</a></p>"
    )


def _tariff_row(label: str, t1: int, t2: int) -> str:
    return f"<tr><th>{label}</th><td>{kwh(t1)}</td><td>{kwh(t2)}</td><td>{kwh(t1 + t2)}</td></tr>"


def _wh(value: int | None) -> str:
    return "unknown" if value is None else f"{value} Wh"


def _num(value: int | None) -> str:
    return "" if value is None else str(value)


def month_page(data: dict[str, Any], points: list[dict[str, Any]]) -> str:
    ap, month = data["ap"], data["month"]
    peak_day = (data["peak_local"] or "")[:10]
    items = []
    for index, d in enumerate(data["days"]):
        known = d["peak_w"] is not None
        items.append(
            Bar(
                d["day"],
                d["import_wh"] if known else None,
                d["export_wh"] if known else None,
                "measured" if known else "missing",
                f"{d['day']}: import {kwh(d['import_wh'])} kWh, export {kwh(d['export_wh'])} kWh, "
                f"highest quarter {watts(d['peak_w'])}",
                (
                    ("day", d["day"]),
                    ("import-wh", _num(d["import_wh"])),
                    ("export-wh", _num(d["export_wh"])),
                ),
                tick=d["day"][8:] if index % 5 == 0 else "",
                mark=d["day"] == peak_day,
            )
        )
    rows = "".join(
        f'<tr><td><a href="/day?{urlencode({"ap": ap, "day": d["day"]})}">'
        f"{_e(d['day'][5:])}</a></td>"
        f"<td>{kwh(d['import_wh'])}</td><td>{kwh(d['export_wh'])}</td><td>"
        f"{watts(d['peak_w'])}</td></tr>"
        for d in data["days"]
    )
    capacity = ""
    if data["capacity_tariff"]:
        capacity = (
            f'<p class="capacity">Capacity tariff: 12-month mean of the monthly peaks '
            f'<b id="rolling">{watts(data["rolling_12m_w"])}</b> (each month counted at '
            "least 2500 W); "
            f'connection {_e(data["capacity_kva"])} kVA, band <b id="band">'
            f"{_e(data['band'])}</b></p>"
        )
    meter = (
        f" (the meter says {watts(data['meter_peak_w'])})"
        if data["meter_peak_w"] is not None
        else ""
    )
    return (
        f"<h1>Month {_e(month)}</h1>"
        + point_picker("/month", points, ap, {"month": month})
        + f'<p class="peak">Monthly peak <b id="peak">{watts(data["peak_w"])}</b> in the '
        "quarter from "
        f'<b id="peakq">{_e(data["peak_local"] or "-")}</b>{meter}</p>'
        + capacity
        + bars("monthchart", items, "Wh")
        + '<table class="days"><tr><th>day</th><th>import kWh</th><th>export kWh</th>'
        f"<th>highest quarter</th></tr>{rows}</table>"
    )


def privacy_page(data: dict[str, Any], csrf: str, message: str = "") -> str:
    cards = []
    for p in data["points"]:
        out = p["consent"] == "opted-out"
        action, verb = ("opt-in", "Opt in again") if out else ("opt-out", "Opt out")
        set_by = (
            f" — set by {_e(p['set_by'])} at {_e(p['set_at'])}"
            if p["set_by"]
            else " (never changed)"
        )
        cards.append(
            f'<section class="card" data-ap="{_e(p["ap"])}"><h2>'
            f"{_e(p['name'] or p['role'])} <small>{_e(p['ap'])}</small></h2>"
            f'<p>Regime <b>{_e(p["regime"])}</b>; consent <b class="consent">'
            f"{_e(p['consent'])}</b>{set_by}; "
            f"last release {_e(p['last_release_day'] or 'never')}</p>"
            f'<form method="post" action="/consent" class="consent-form">'
            f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
            f'<input type="hidden" name="ap" value="{_e(p["ap"])}">'
            f'<input type="hidden" name="action" value="{action}">'
            '<label>Password <input type="password" name="password" '
            'autocomplete="current-password"></label> '
            f"<button>{verb}</button></form></section>"
        )
    rows = "".join(
        f'<tr class="k-{_e(r["kind"])}"><td>{_e(r["local"])}</td><td>{_e(r["kind"])}</td>'
        f"<td>{_e(r['ap'])}</td>"
        f"<td>{_e(r['days'])}</td><td>{_e(r['recipient'])}</td><td>{_e(r['detail'])}</td></tr>"
        for r in data["log"]
    )
    note = f'<p class="banner" id="message">{_e(message)}</p>' if message else ""
    return (
        "<h1>Privacy</h1>"
        + note
        + "<p>While a point is opted out nothing about it leaves the gateway except the status "
        "“opted-out”; days recorded while opted out are never released. You keep seeing your own "
        "data here.</p>"
        + "".join(cards)
        + '<h2>Consumer log</h2><p class="downloads"><a href="/download/log.csv" download>'
        "Log (CSV)</a></p>"
        + '<div class="scroll"><table id="log"><tr><th>when</th><th>what</th><th>point</th>'
        f"<th>days</th><th>to whom</th><th>detail</th></tr>{rows}</table></div>"
    )


def login_page(csrf: str, next_path: str, message: str = "") -> str:
    note = f'<p class="banner" id="message">{_e(message)}</p>' if message else ""
    return (
        f"<h1>Log in</h1>{note}"
        '<form method="post" action="/login" class="login">'
        f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
        f'<input type="hidden" name="next" value="{_e(next_path)}">'
        '<label>Password <input type="password" name="password" '
        'autocomplete="current-password" autofocus></label> '
        "<button>Log in</button></form>"
    )


def message_page(title: str, text: str) -> str:
    return f"<h1>{_e(title)}</h1><p>{_e(text)}</p>"
