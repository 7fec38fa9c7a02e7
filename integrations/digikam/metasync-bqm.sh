#!/usr/bin/env bash
# digiKam Batch Queue Manager "Custom Script" step: apply metasync's suggestions for $INPUT via the bridge,
# then hand digiKam the file it expects on $OUTPUT. Paste into BQM > Base Tools > Custom Script as:
#     /path/to/metasync-bqm.sh $INPUT $OUTPUT
# digiKam replaces $INPUT/$OUTPUT with the path already wrapped in double quotes and runs the line with
# `/bin/sh -c` (newer versions: /bin/bash), so the paths arrive here as $1 and $2 intact, spaces, single quotes and
# non-ASCII included. Do not add quotes of your own (INPUT="$INPUT" becomes INPUT=""/a b.jpg"" and breaks).
# A path containing a double quote, `$`, a backtick or a backslash cannot survive digiKam's naive quoting: the
# shell expands it before this script runs. Rename such folders/files first.
# The INPUT and OUTPUT environment variables are still accepted when no arguments are given (older setups).
# digiKam allows 60 s per image in total: every bridge call shares a 50 s budget (5 s to connect).
# Settings (environment): METASYNC_URL (default http://127.0.0.1:8765), METASYNC_TOKEN (default: the token file
# `metasync serve` writes), METASYNC_MIN_CONFIDENCE (default 0.9: BQM runs unattended, so only high confidence).
set -u

url="${METASYNC_URL:-http://127.0.0.1:8765}"
min_conf="${METASYNC_MIN_CONFIDENCE:-0.9}"
token_file="${XDG_CONFIG_HOME:-$HOME/.config}/metasync/token"
token="${METASYNC_TOKEN:-$(cat "$token_file" 2>/dev/null)}"

budget="${METASYNC_TIME_BUDGET:-50}"  # seconds for all bridge calls together (digiKam kills the script at 60)

# exactly one line on stderr, then a non-zero exit: digiKam shows it and stops the queue
fail() { printf 'metasync: %s\n' "$(printf '%s' "$*" | tr '\r\n' '  ')" >&2; exit 1; }

if [ $# -ge 2 ]; then INPUT=$1; OUTPUT=$2
elif [ $# -eq 1 ]; then fail "usage: metasync-bqm.sh \$INPUT \$OUTPUT (got one argument: $1)"
fi
[ -n "${INPUT:-}" ] && [ -n "${OUTPUT:-}" ] \
  || fail "usage: metasync-bqm.sh \$INPUT \$OUTPUT (digiKam's Custom Script line, without extra quotes)"
[ -f "$INPUT" ] || fail "no such file: $INPUT"
command -v curl >/dev/null || fail "curl is not installed"
command -v python3 >/dev/null || fail "python3 is needed to read the bridge's JSON"

tmp=$(mktemp -d) || fail "cannot create a temp folder"
trap 'rm -rf "$tmp"' EXIT

# call METHOD ROUTE [BODY] -> body in $tmp/out, HTTP status on stdout
SECONDS=0
call() {
  local left=$((budget - SECONDS))
  [ "$left" -gt 0 ] || { echo "metasync gave up: the bridge took longer than ${budget} s" >"$tmp/err"; return 1; }
  local args=(-sS --connect-timeout 5 --max-time "$left" -X "$1" -o "$tmp/out" -w '%{http_code}'
              -H "X-Metasync-Token: $token")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "$url$2" 2>"$tmp/err"
}

json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$tmp/out" "$1"; }

enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/"))' "$INPUT")
status=$(call GET "/api/metadata-sync/suggestions?path=$enc") || fail "bridge not reachable at $url (start it with 'metasync serve'): $(cat "$tmp/err")"
case "$status" in
  200) ;;
  401) fail "the bridge refused the token (set METASYNC_TOKEN or check $token_file)" ;;
  *) fail "bridge error HTTP $status: $(json_get "d.get('error', {}).get('message', d)" 2>/dev/null || cat "$tmp/out")" ;;
esac
ids=$(json_get "' '.join(str(g['id']) for g in (d['suggestions'] if isinstance(d, dict) else d))") \
  || fail "the bridge sent an unreadable answer"

for id in $ids; do
  status=$(call POST "/api/metadata-sync/groups/$id/apply" "{\"min_confidence\": $min_conf, \"host\": \"digikam\"}") \
    || fail "bridge not reachable at $url: $(cat "$tmp/err")"
  [ "$status" = 200 ] || fail "apply of group $id failed (HTTP $status): $(json_get "d['error']['message']" 2>/dev/null || cat "$tmp/out")"
  echo "metasync: group $id applied: $(json_get "d['applied']") change(s)"
done
[ -n "$ids" ] || echo "metasync: nothing to suggest for $INPUT"

cp "$INPUT" "$OUTPUT" || fail "cannot copy $INPUT to $OUTPUT"
