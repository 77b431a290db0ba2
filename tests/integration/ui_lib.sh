# shellcheck shell=bash
# Helpers for the `ferry ui` tests: the ui runs in test host A (it lists and
# moves A's processes), its peer "b" is the `ferry receive` of host B
# (migrate_lib.sh). Requests are made from inside A with curl.
#   ui_setup [CMD..]           skip without what the tests need (and CMDs), then
#                              hosts A and B, the key, B's `ferry receive`
#   ui_start PORT [OPTS..]     ferry ui in A on 127.0.0.1:PORT (or --listen in OPTS);
#                              sets UI_PID, UI_ERR, UI_URL, UI_TOKEN (if it printed one)
#   ui_req METHOD PATH [CURL_OPTS..]  -> HTTP_CODE, HTTP_BODY (a file)
#   jpy FILE EXPR              prints the Python expression EXPR of the JSON in FILE (as j)
#   ui_wait_migration ID [TMO] until the migration is no longer running; sets MIG (a file)
# Source after lib.sh (it sources hosts.sh and migrate_lib.sh).
. "$(dirname "${BASH_SOURCE[0]}")/hosts.sh"
. "$(dirname "${BASH_SOURCE[0]}")/migrate_lib.sh"

ui_setup() {
	require_hosts
	require_ferry
	require_cmd curl python3 openssl "$@"
	migrate_setup
	receiver_start --key-file "$KEY"
}

ui_start() {
	local port=$1
	shift
	LIB_SEQ=$((LIB_SEQ + 1))
	UI_ERR=$T/ui.$LIB_SEQ.err
	local listen=(--listen "127.0.0.1:$port")
	case " $* " in *" --listen "*) listen=() ;; esac
	host_exec A "$FERRY" ui "${listen[@]}" "$@" </dev/null >"$T/ui.$LIB_SEQ.out" 2>"$UI_ERR" &
	UI_PID=$!
	track_pid "$UI_PID"
	_ui_listening() { grep -q "listening on" "$UI_ERR"; }
	wait_until 10 _ui_listening || fail "ferry ui did not start: $(cat "$UI_ERR")"
	UI_URL=$(grep -o 'http://[^/]*/' "$UI_ERR" | head -n1)
	UI_URL=${UI_URL%/}
	UI_TOKEN=$(grep -o 'token=[0-9a-zA-Z._~-]*' "$UI_ERR" | head -n1 | cut -d= -f2)
	log "ferry ui in A: $UI_URL${UI_TOKEN:+ (token $UI_TOKEN)}"
}

ui_req() {
	local method=$1 path=$2
	shift 2
	LIB_SEQ=$((LIB_SEQ + 1))
	HTTP_BODY=$T/http.$LIB_SEQ.json
	HTTP_CODE=$(host_exec A curl -sS --max-time 30 -o "$HTTP_BODY" -w '%{http_code}' -X "$method" "$@" "$UI_URL$path")
}

ui_post_json() { # PATH JSON [CURL_OPTS..]
	local path=$1 body=$2
	shift 2
	ui_req POST "$path" -H 'Content-Type: application/json' --data "$body" "$@"
}

jpy() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

ui_wait_migration() {
	local id=$1 tmo=${2:-120}
	_mig_ended() {
		ui_req GET "/api/migrations/$id"
		[ "$HTTP_CODE" = 200 ] && [ "$(jpy "$HTTP_BODY" 'j["state"]')" != running ]
	}
	wait_until "$tmo" _mig_ended || fail "migration $id still running after ${tmo}s: $(cat "$HTTP_BODY")"
	MIG=$HTTP_BODY
}

# ui_stop: SIGTERM to the ui inside A, and it exits 0 within 10 s
ui_stop() {
	host_pkill A -TERM "$FERRY ui " || fail "no ferry ui in host A"
	wait_exit "$UI_PID" 10 || fail "ferry ui did not stop on SIGTERM"
	[ "$EXIT_RC" = 0 ] || fail "ferry ui exited $EXIT_RC on SIGTERM: $(cat "$UI_ERR")"
}
