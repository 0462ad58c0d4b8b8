"""The channel page at /_sim/: the simulator's messages drawn like Slack, with working buttons and modals.

Everything on it comes from the app (Block Kit, mrkdwn) or from whoever
registered the users, so every string is escaped before it reaches the
page; links keep only http(s) and mailto targets. It works without
JavaScript and under a strict Content-Security-Policy (no inline script or
style: the look is /_sim/static/slack_sim.css). Buttons and the modal are
plain HTML forms posting to /_sim/ui/*, which send the signed interaction
and redirect back here.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any
from urllib.parse import urlencode

from devtools.slack_sim.state import APPROVALS_CHANNEL, BOT_NAME, Workspace, channel_name

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
DEFAULT_CHANNEL = APPROVALS_CHANNEL
REFRESH_SECONDS = 3
EMOJI = {
    "white_check_mark": "\u2705",
    "heavy_check_mark": "\u2714\ufe0f",
    "x": "\u274c",
    "no_entry": "\u26d4",
    "no_entry_sign": "\U0001f6ab",
    "warning": "\u26a0\ufe0f",
    "hourglass": "\u231b",
    "hourglass_flowing_sand": "\u23f3",
    "moneybag": "\U0001f4b0",
    "money_with_wings": "\U0001f4b8",
    "lock": "\U0001f512",
    "bust_in_silhouette": "\U0001f464",
    "eyes": "\U0001f440",
    "pencil2": "\u270f\ufe0f",
    "memo": "\U0001f4dd",
    "bell": "\U0001f514",
    "rotating_light": "\U0001f6a8",
    "information_source": "\u2139\ufe0f",
    "arrows_counterclockwise": "\U0001f504",
    "credit_card": "\U0001f4b3",
    "receipt": "\U0001f9fe",
    "tada": "\U0001f389",
    "thumbsup": "\U0001f44d",
    "+1": "\U0001f44d",
}
_TOKEN = re.compile(r"<([^<>\n]+)>")
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# --- text -------------------------------------------------------------------------------------------------


def _slack_unescape(text: str) -> str:
    """Slack's own escaping of &, < and > in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _inline(escaped: str) -> str:
    """*bold*, _italic_, ~strike~, `code` and :emoji: on text that is already HTML-escaped."""
    escaped = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])", r"<b>\1</b>", escaped)
    escaped = re.sub(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])", r"<i>\1</i>", escaped)
    escaped = re.sub(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])", r"<s>\1</s>", escaped)
    return re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def _token(inner: str, ws: Workspace) -> str:
    """One <...> of mrkdwn: a link, a user or channel mention, a special mention."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user = ws.users.get(target[1:])
        name = label or (user["name"] if user else target[1:])
        return f'<span class="mention">@{esc(name)}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{esc(label or target[1:])}</span>'
    if target.startswith("!"):
        return f'<span class="mention">@{esc(label or target[1:].split("^")[0])}</span>'
    url = _slack_unescape(target)
    if _SAFE_URL.match(url):
        return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(_slack_unescape(label or target))}</a>'
    return esc(_slack_unescape(f"<{inner}>"))


def _mrkdwn_line(line: str, ws: Workspace) -> str:
    parts, last = [], 0
    for match in _TOKEN.finditer(line):
        parts.append(_inline(esc(_slack_unescape(line[last : match.start()]))))
        parts.append(_token(match.group(1), ws))
        last = match.end()
    parts.append(_inline(esc(_slack_unescape(line[last:]))))
    return "".join(parts)


def mrkdwn(text: str, ws: Workspace) -> str:
    """Slack's mrkdwn as HTML: quotes (`>`), code blocks, newlines, then the inline forms."""
    out: list[str] = []
    quote: list[str] = []
    in_code = False
    code: list[str] = []
    for line in (text or "").split("\n"):
        if line.strip().startswith("```") or in_code:
            stripped = line.strip()
            if not in_code:
                in_code, rest = True, stripped[3:]
                if rest.endswith("```") and rest:
                    out.append(f"<pre>{esc(_slack_unescape(rest[:-3]))}</pre>")
                    in_code = False
                elif rest:
                    code.append(rest)
                continue
            if stripped.endswith("```"):
                code.append(line.rstrip()[:-3])
                out.append(f"<pre>{esc(_slack_unescape(chr(10).join(code)))}</pre>")
                in_code, code = False, []
            else:
                code.append(line)
            continue
        if line.startswith(">") or line.startswith("&gt;"):
            quote.append(_mrkdwn_line(line[1:] if line.startswith(">") else line[4:], ws).lstrip())
            continue
        if quote:
            out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
            quote = []
        out.append(_mrkdwn_line(line, ws) + "<br>")
    if quote:
        out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
    if code:
        out.append(f"<pre>{esc(_slack_unescape(chr(10).join(code)))}</pre>")
    rendered = "".join(out)
    return rendered[:-4] if rendered.endswith("<br>") else rendered


def text_object(obj: Any, ws: Workspace) -> str:
    if not isinstance(obj, dict):
        return esc(obj) if obj else ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text") or ""), ws)
    return _inline_emoji_only(esc(obj.get("text") or ""))


def _inline_emoji_only(escaped: str) -> str:
    return re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


# --- blocks -----------------------------------------------------------------------------------------------


class Renderer:
    """Block Kit to HTML for one viewer (`user`), whose clicks post from `channel`."""

    def __init__(self, ws: Workspace, *, channel: str, user: str | None) -> None:
        self.ws = ws
        self.channel = channel
        self.user = user

    def blocks(self, blocks: list[Any], *, ts: str | None, modal: dict[str, Any] | None = None) -> str:
        return "".join(self.block(b, ts=ts, modal=modal) for b in blocks if isinstance(b, dict))

    def block(self, block: dict[str, Any], *, ts: str | None, modal: dict[str, Any] | None = None) -> str:
        kind = block.get("type")
        if kind == "header":
            return f'<div class="bk-header">{text_object(block.get("text"), self.ws)}</div>'
        if kind == "divider":
            return '<hr class="bk-divider">'
        if kind == "section":
            return self._section(block, ts)
        if kind == "context":
            items = []
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("type") == "image":
                    items.append(f'<span class="bk-img-alt">[{esc(element.get("alt_text") or "image")}]</span>')
                else:
                    items.append(f"<span>{text_object(element, self.ws)}</span>")
            return f'<div class="bk-context">{"".join(items)}</div>'
        if kind == "actions":
            elements = [self.element(e, block_id=block.get("block_id"), ts=ts) for e in block.get("elements") or []]
            return f'<div class="bk-actions">{"".join(elements)}</div>'
        if kind == "image":
            return f'<div class="bk-img-alt">[image: {esc(block.get("alt_text") or "")}]</div>'
        if kind == "input" and modal is not None:
            return self._input(block, modal)
        if kind == "rich_text":
            return f'<div class="bk-section">{esc(_rich_text_plain(block))}</div>'
        return f'<div class="bk-unsupported">[{esc(kind)} block]</div>'

    def _section(self, block: dict[str, Any], ts: str | None) -> str:
        parts = []
        if block.get("text"):
            parts.append(f'<div class="bk-text">{text_object(block["text"], self.ws)}</div>')
        fields = [f'<div class="bk-field">{text_object(f, self.ws)}</div>' for f in block.get("fields") or []]
        if fields:
            parts.append(f'<div class="bk-fields">{"".join(fields)}</div>')
        body = f'<div class="bk-section-body">{"".join(parts)}</div>'
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            side = self.element(accessory, block_id=block.get("block_id"), ts=ts)
            return f'<div class="bk-section">{body}<div class="bk-accessory">{side}</div></div>'
        return f'<div class="bk-section">{body}</div>'

    def element(self, element: Any, *, block_id: Any, ts: str | None) -> str:
        if not isinstance(element, dict):
            return ""
        if element.get("type") != "button":
            return f'<span class="bk-unsupported">[{esc(element.get("type"))}]</span>'
        style = element.get("style") if element.get("style") in ("primary", "danger") else "default"
        label = text_object(element.get("text"), self.ws)
        if element.get("url"):
            url = str(element["url"])
            if _SAFE_URL.match(url):
                return f'<a class="btn btn-{style}" href="{esc(url)}" rel="noopener noreferrer">{label}</a>'
        if not self.user or ts is None:
            title = "Choose who you are (left) to click" if not self.user else ""
            return f'<button class="btn btn-{style}" type="button" disabled title="{esc(title)}">{label}</button>'
        hidden = {
            "user": self.user,
            "channel": self.channel,
            "ts": ts,
            "action_id": element.get("action_id") or "",
            "block_id": block_id or "",
        }
        if element.get("value") is not None:
            hidden["value"] = element["value"]
        fields = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in hidden.items())
        return (
            f'<form class="bk-button-form" method="post" action="/_sim/ui/click">{fields}'
            f'<button class="btn btn-{style}" type="submit">{label}</button></form>'
        )

    def _input(self, block: dict[str, Any], modal: dict[str, Any]) -> str:
        element = block.get("element") or {}
        block_id, action_id = str(block.get("block_id") or ""), str(element.get("action_id") or "")
        field_id = f"f-{block_id}-{action_id}"
        draft = (modal.get("draft") or {}).get(block_id, {})
        value = draft.get(action_id, element.get("initial_value") or "")
        optional = bool(block.get("optional"))
        attrs = [f'id="{esc(field_id)}"', f'name="{esc(f"v:{block_id}:{action_id}")}"']
        if not optional:
            attrs.append("required")
        if element.get("max_length"):
            attrs.append(f'maxlength="{esc(element["max_length"])}"')
        if element.get("min_length"):
            attrs.append(f'minlength="{esc(element["min_length"])}"')
        placeholder = element.get("placeholder")
        if isinstance(placeholder, dict):
            attrs.append(f'placeholder="{esc(placeholder.get("text"))}"')
        error = (modal.get("errors") or {}).get(block_id)
        if error:
            attrs.append('aria-invalid="true"')
        kind = element.get("type")
        if kind == "checkboxes":
            return self._checkboxes(block, element, draft.get(action_id), error)
        if kind not in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
            control = f'<div class="bk-unsupported">[{esc(kind)} input]</div>'
        elif element.get("multiline"):
            control = f'<textarea rows="4" {" ".join(attrs)}>{esc(value)}</textarea>'
        else:
            input_type = {"email_text_input": "email", "url_text_input": "url"}.get(str(kind), "text")
            control = f'<input type="{input_type}" value="{esc(value)}" {" ".join(attrs)}>'
        label = text_object(block.get("label"), self.ws)
        suffix = ' <span class="optional">(optional)</span>' if optional else ""
        hint = f'<div class="hint">{text_object(block.get("hint"), self.ws)}</div>' if block.get("hint") else ""
        shown_error = f'<div class="field-error" role="alert">{esc(error)}</div>' if error else ""
        klass = "bk-input has-error" if error else "bk-input"
        return (
            f'<div class="{klass}"><label for="{esc(field_id)}">{label}{suffix}</label>'
            f"{control}{shown_error}{hint}</div>"
        )

    def _checkboxes(self, block: dict[str, Any], element: dict[str, Any], draft: Any, error: str | None) -> str:
        """A `checkboxes` input: one HTML checkbox per option, named `c:{block_id}:{action_id}`.

        A hidden empty field of the same name says the group was on the form,
        so an unticked group submits "nothing ticked", not "left as it was".
        """
        block_id, action_id = str(block.get("block_id") or ""), str(element.get("action_id") or "")
        name = f"c:{block_id}:{action_id}"
        options = [o for o in element.get("options") or [] if isinstance(o, dict)]
        if isinstance(draft, list):
            ticked = {str(v) for v in draft}
        else:
            ticked = {str(o.get("value")) for o in element.get("initial_options") or [] if isinstance(o, dict)}
        # One box alone and required: the browser refuses to submit it unticked, as Slack's client does.
        required = " required" if len(options) == 1 and not block.get("optional") else ""
        invalid = ' aria-invalid="true"' if error else ""
        boxes = []
        for index, option in enumerate(options):
            value = str(option.get("value") or "")
            box_id = f"f-{block_id}-{action_id}-{index}"
            checked = " checked" if value in ticked else ""
            boxes.append(
                f'<div class="bk-checkbox"><input type="checkbox" id="{esc(box_id)}" name="{esc(name)}" '
                f'value="{esc(value)}"{checked}{required}{invalid}>'
                f'<label for="{esc(box_id)}">{text_object(option.get("text"), self.ws)}</label></div>'
            )
        optional = bool(block.get("optional"))
        label = text_object(block.get("label"), self.ws)
        suffix = ' <span class="optional">(optional)</span>' if optional else ""
        hint = f'<div class="hint">{text_object(block.get("hint"), self.ws)}</div>' if block.get("hint") else ""
        shown_error = f'<div class="field-error" role="alert">{esc(error)}</div>' if error else ""
        klass = "bk-input has-error" if error else "bk-input"
        return (
            f'<fieldset class="{klass}"><legend>{label}{suffix}</legend>'
            f'<input type="hidden" name="{esc(name)}" value="">'
            f"{''.join(boxes)}{shown_error}{hint}</fieldset>"
        )


def _rich_text_plain(block: dict[str, Any]) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(str(node.get("text") or ""))
            for child in node.get("elements") or []:
                walk(child)

    walk(block)
    return "".join(out)


# --- the page ---------------------------------------------------------------------------------------------


def _clock(ts: str) -> str:
    try:
        return time.strftime("%H:%M", time.localtime(float(ts)))
    except (TypeError, ValueError):
        return ""


def _link(**params: str | None) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "/_sim/" + ("?" + urlencode(kept) if kept else "")


def _channel_label(channel: str) -> str:
    return channel_name(channel) if channel == DEFAULT_CHANNEL else channel


def render(ws: Workspace, *, channel: str | None, user: str | None, notice: str | None) -> str:
    """The whole page for one channel as seen by one registered user (or by nobody yet)."""
    channels = sorted(ws.messages) or [DEFAULT_CHANNEL]
    if not channel:
        newest = max((m for ms in ws.messages.values() for m in ms), key=lambda m: float(m["ts"]), default=None)
        channel = newest["channel"] if newest else DEFAULT_CHANNEL
    if channel not in channels:
        channels.append(channel)
    if user and user not in ws.users:
        user = None
    renderer = Renderer(ws, channel=channel, user=user)
    modal = ws.open_view_for(user) if user else None
    refresh = "" if modal else f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>#{esc(_channel_label(channel))} - Slack (simulated)</title>"
        '<link rel="stylesheet" href="/_sim/static/slack_sim.css"></head>'
        f'<body><div class="app">{_sidebar(ws, channels, channel, user)}'
        f'<main class="channel">{_channel_header(ws, channel)}'
        f"{_notice(notice)}{_messages(ws, renderer, channel, user)}</main></div>"
        f"{_modal(renderer, modal, channel, user) if modal else ''}</body></html>"
    )


def _sidebar(ws: Workspace, channels: list[str], channel: str, user: str | None) -> str:
    links = "".join(
        f'<li><a class="{"active" if c == channel else ""}" href="{esc(_link(channel=c, user=user))}">'
        f"# {esc(_channel_label(c))}</a></li>"
        for c in channels
    )
    options = "".join(
        f'<option value="{esc(u["id"])}"{" selected" if u["id"] == user else ""}>'
        f"{esc(u['real_name'])} ({esc(u['profile']['email'])})</option>"
        for u in ws.users.values()
    )
    chooser = (
        '<form class="whoami" method="get" action="/_sim/">'
        '<label for="whoami-user">You are</label>'
        f'<input type="hidden" name="channel" value="{esc(channel)}">'
        f'<select id="whoami-user" name="user"><option value="">- nobody -</option>{options}</select>'
        '<button class="btn btn-default" type="submit">Switch</button></form>'
        if ws.users
        else '<p class="whoami-empty">No users yet: add one below (its email must be a console user\'s).</p>'
    )
    add_user = (
        '<details class="add-user"><summary>Add a user</summary>'
        '<form method="post" action="/_sim/ui/users">'
        f'<input type="hidden" name="channel" value="{esc(channel)}">'
        '<label for="nu-name">Name</label><input id="nu-name" name="name" required>'
        '<label for="nu-email">Email</label><input id="nu-email" name="email" type="email" required>'
        '<button class="btn btn-default" type="submit">Add</button></form></details>'
    )
    return (
        '<nav class="sidebar"><div class="workspace">Refund desk <span class="sim-tag">simulated</span></div>'
        f'<div class="section-title">Channels</div><ul class="channels">{links}</ul>'
        f'<div class="section-title">Who is clicking</div>{chooser}{add_user}</nav>'
    )


def _channel_header(ws: Workspace, channel: str) -> str:
    target = ws.interactions_url or "nowhere yet (POST /_sim/config)"
    return (
        f'<header class="channel-header"><h1># {esc(_channel_label(channel))}</h1>'
        f'<span class="channel-id">{esc(channel)}</span>'
        f'<span class="target">Clicks go to {esc(target)}</span></header>'
    )


def _notice(notice: str | None) -> str:
    return f'<div class="notice" role="status">{esc(notice)}</div>' if notice else ""


def _messages(ws: Workspace, renderer: Renderer, channel: str, user: str | None) -> str:
    posted = [(m, False) for m in ws.messages.get(channel, [])]
    if user:
        posted += [(e, True) for e in ws.ephemerals if e["channel"] == channel and e["user"] == user]
    posted.sort(key=lambda item: float(item[0]["ts"]))
    if not posted:
        return (
            '<div class="empty">No messages in this channel yet. The app posts here with '
            "<code>chat.postMessage</code>; this page refreshes every few seconds.</div>"
        )
    rows = [_message(renderer, message, ephemeral) for message, ephemeral in posted]
    return f'<ol class="messages">{"".join(rows)}</ol>'


def _message(renderer: Renderer, message: dict[str, Any], ephemeral: bool) -> str:
    blocks = message.get("blocks") or []
    body = (
        renderer.blocks(blocks, ts=message["ts"])
        if blocks
        else f'<div class="bk-text">{mrkdwn(message.get("text") or "", renderer.ws)}</div>'
    )
    notes = []
    if ephemeral:
        notes.append('<div class="ephemeral-note">Only visible to you</div>')
    if message.get("thread_ts") and message.get("thread_ts") != message["ts"]:
        notes.append('<div class="thread-note">replied in a thread</div>')
    edited = ' <span class="edited">(updated)</span>' if message.get("updates") else ""
    klass = "message ephemeral" if ephemeral else "message"
    return (
        f'<li class="{klass}" id="m-{esc(message["ts"])}" data-ts="{esc(message["ts"])}">'
        '<div class="avatar" aria-hidden="true">R</div><div class="message-body">'
        f'<div class="meta"><span class="sender">{esc(BOT_NAME)}</span><span class="app-badge">APP</span>'
        f"<time>{esc(_clock(message['ts']))}</time>{edited}</div>"
        f'{"".join(notes)}<div class="blocks">{body}</div></div></li>'
    )


def _modal(renderer: Renderer, record: dict[str, Any], channel: str, user: str | None) -> str:
    view = record["view"]
    title = text_object(view.get("title"), renderer.ws)
    submit = text_object(view.get("submit"), renderer.ws) if view.get("submit") else "Submit"
    close = text_object(view.get("close"), renderer.ws) if view.get("close") else "Cancel"
    modal = {"errors": record.get("errors") or {}, "draft": record.get("draft") or {}}
    body = renderer.blocks(view.get("blocks") or [], ts=None, modal=modal)
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{esc(v)}">'
        for k, v in (("view_id", record["id"]), ("user", user), ("channel", channel))
    )
    has_inputs = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
    submit_button = (
        f'<button class="btn btn-primary" type="submit">{submit}</button>' if has_inputs or view.get("submit") else ""
    )
    return (
        '<div class="overlay"><div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title">'
        f'<form method="post" action="/_sim/ui/submit">{hidden}'
        f'<div class="modal-head"><h2 id="modal-title">{title}</h2></div>'
        f'<div class="modal-body">{body}</div>'
        '<div class="modal-foot">'
        f'<button class="btn btn-default" type="submit" formaction="/_sim/ui/close" formnovalidate>{close}</button>'
        f"{submit_button}</div></form></div></div>"
    )
