#!/usr/bin/env bash
# digiKam Batch Queue Manager "Custom Script" step: apply metasync's suggestions for $INPUT via the bridge,
# then hand digiKam the file it expects on $OUTPUT. Paste into BQM > Base Tools > Custom Script as:
#     INPUT="$INPUT" OUTPUT="$OUTPUT" /path/to/metasync-bqm.sh
# Settings (environment): METASYNC_URL (default http://127.0.0.1:8765), METASYNC_TOKEN (default: the token file
# `metasync serve` writes), METASYNC_MIN_CONFIDENCE (default 0.9: BQM runs unattended, so only high confidence).
set -u

url="${METASYNC_URL:-http://127.0.0.1:8765}"
min_conf="${METASYNC_MIN_CONFIDENCE:-0.9}"
token_file="${XDG_CONFIG_HOME:-$HOME/.config}/metasync/token"
token="${METASYNC_TOKEN:-$(cat "$token_file" 2>/dev/null)}"

fail() { echo "metasync: $*" >&2; exit 1; }

[ -n "${INPUT:-}" ] && [ -n "${OUTPUT:-}" ] || fail "INPUT and OUTPUT must be set (digiKam's \$INPUT and \$OUTPUT)"
[ -f "$INPUT" ] || fail "no such file: $INPUT"
command -v curl >/dev/null || fail "curl is not installed"
command -v python3 >/dev/null || fail "python3 is needed to read the bridge's JSON"

tmp=$(mktemp -d) || fail "cannot create a temp folder"
trap 'rm -rf "$tmp"' EXIT

# call METHOD ROUTE [BODY] -> body in $tmp/out, HTTP status on stdout
call() {
  local args=(-sS --max-time 60 -X "$1" -o "$tmp/out" -w '%{http_code}' -H "X-Metasync-Token: $token")
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
    || fail "bridge not reachable at $url"
  [ "$status" = 200 ] || fail "apply of group $id failed (HTTP $status): $(json_get "d['error']['message']" 2>/dev/null || cat "$tmp/out")"
  echo "metasync: group $id applied: $(json_get "d['applied']") change(s)"
done
[ -n "$ids" ] || echo "metasync: nothing to suggest for $INPUT"

cp "$INPUT" "$OUTPUT" || fail "cannot copy $INPUT to $OUTPUT"
