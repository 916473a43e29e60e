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
"$tracker" init --example >/dev/null
id="$("$tracker" list --open --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')"
"$tracker" notify "$id" >/dev/null
"$tracker" update "$id" --note "Renewed certificate installed; mail is flowing again, queues draining" --status Monitoring >/dev/null
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
    for audience in leadership technical customer; do
        chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
            --disable-component-update --disable-sync --user-data-dir="$work/chromium-$audience" --hide-scrollbars \
            --window-size=700,1150 --screenshot="$here/$audience.png" "file://$here/$audience.html" >/dev/null 2>&1
    done
fi
