#!/usr/bin/env bash
# Regenerate the example emails in this folder from `tracker init --example`
# (text, HTML, .eml, and PNG screenshots when chromium is installed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tracker="${TRACKER:-tracker}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
export TRACKER_USER="Alex Morgan"
# The moment the examples show (tracker's rehearsal clock), so regenerating changes only what the change changed.
export TRACKER_NOW="${TRACKER_NOW:-2026-11-22T06:24Z}"
"$tracker" init --example >/dev/null
id="$("$tracker" list --open --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')"
"$tracker" notify "$id" >/dev/null
"$tracker" update "$id" --note "Renewed certificate installed on mail-gw-01; mail is flowing again, queues draining" --public-note "A fix is in place and email is flowing again" --status Monitoring >/dev/null
"$tracker" notify "$id" >/dev/null
python3 - "$here" <<'PY'
import email, email.policy, pathlib, sys
out = pathlib.Path(sys.argv[1])
for path in sorted(pathlib.Path("outbox").glob("*.eml"))[-3:]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    audience = message["X-Tracker-Audience"]
    head = "".join(f"{h}: {message[h]}\n" for h in ("From", "To", "Cc", "Bcc", "Subject") if message[h])
    (out / f"{audience}.txt").write_text(head + "\n" + message.get_body(("plain",)).get_content())
    (out / f"{audience}.html").write_text(message.get_body(("html",)).get_content())
    (out / f"{audience}.eml").write_bytes(path.read_bytes())
PY
if command -v chromium >/dev/null; then
    # A phone (375 CSS px) and a desktop mail client (640): headless Chromium will not open a window
    # narrower than 500 px, so each email is laid out in a box of that width on a page of its own.
    for audience in leadership technical customer; do
        for width in 375 640; do
            sed "s|<body\([^>]*\)>|<body\1><div style=\"width:${width}px\">|; s|</body>|</div></body>|" \
                "$here/$audience.html" > "$work/$audience-$width.html"
            chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
                --disable-component-update --disable-sync --user-data-dir="$work/chromium-$audience-$width" \
                --hide-scrollbars --window-size="$((width > 500 ? width : 500)),1250" \
                --screenshot="$here/$audience-$width.png" "file://$work/$audience-$width.html" >/dev/null 2>&1
        done
    done
fi
