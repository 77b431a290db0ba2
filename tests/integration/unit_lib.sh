# shellcheck shell=bash
# Runs a systemd service's ExecStart the way systemd would, on machines whose
# PID 1 is not systemd (tests only). Source after lib.sh and hosts.sh.
#   unit_load UNIT           reads [Service]'s EnvironmentFile= (NAME=value
#                            lines), UMask=, LogsDirectory= and ExecStart=
#                            into UNIT_ENV, UNIT_ARGV ...: ${NAME} is one
#                            argument, $NAME splits at whitespace
#                            (systemd.service(5), "Command lines")
#   unit_start_in HOST LOG   creates the LogsDirectory, runs UNIT_ARGV in
#                            HOST with only UNIT_ENV (and PATH) and the
#                            umask, stdout + stderr (the journal) to LOG
#                            (sets UNIT_MAIN_PID, the service's main process)
#   unit_stop                SIGTERM to the main process (KillMode=process),
#                            sets UNIT_RC
# What this does not read (quoting, specifiers, prefixes) fails the test.

declare -A UNIT_ENV=()
UNIT_ARGV=()

# unit_value UNIT KEY: KEY's last value in the [Service] section
unit_value() { sed -n '/^\[Service\]/,/^\[/s/^'"$2"'=//p' "$1" | tail -n1; }

unit_load() {
	local unit=$1 env_file line word split
	env_file=$(unit_value "$unit" EnvironmentFile)
	[[ $env_file == /* ]] || fail "$unit: EnvironmentFile '$env_file' is not a plain path"
	UNIT_ENV=()
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line =~ ^[[:space:]]*([#\;].*)?$ ]] && continue
		[[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || fail "$env_file: not NAME=value: $line"
		[[ ${BASH_REMATCH[2]} != *[\"\'\\\$]* ]] || fail "$env_file: quotes, \\ or \$ in $line (not read here)"
		UNIT_ENV[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]%"${BASH_REMATCH[2]##*[![:space:]]}"}
	done <"$env_file"
	UNIT_ARGV=()
	for word in $(unit_value "$unit" ExecStart); do
		if [[ $word =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$ ]]; then
			UNIT_ARGV+=("${UNIT_ENV[${BASH_REMATCH[1]}]-}")
		elif [[ $word =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
			read -ra split <<<"${UNIT_ENV[${BASH_REMATCH[1]}]-}"
			UNIT_ARGV+=("${split[@]}")
		elif [[ $word == *[\$\"\'\\%]* || ($word == [-@+!:]* && ${#UNIT_ARGV[@]} == 0) ]]; then
			fail "$unit: ExecStart word '$word' (quoting, specifier or prefix) is not read here"
		else
			UNIT_ARGV+=("$word")
		fi
	done
	UNIT_UMASK=$(unit_value "$unit" UMask)
	UNIT_LOGS_DIR=$(unit_value "$unit" LogsDirectory)
}

unit_start_in() {
	local host=$1 log=$2 name env=(PATH=/usr/sbin:/usr/bin:/sbin:/bin)
	for name in "${!UNIT_ENV[@]}"; do env+=("$name=${UNIT_ENV[$name]}"); done
	[ -z "$UNIT_LOGS_DIR" ] || install -d -m 0755 "/var/log/$UNIT_LOGS_DIR"
	(
		umask "${UNIT_UMASK:-0022}"
		exec nsenter -t "${HOST_PID[$host]}" -p -m -u -n -- env -i "${env[@]}" "${UNIT_ARGV[@]}"
	) </dev/null >"$log" 2>&1 &
	UNIT_PID=$! # nsenter, which forks into the host's pid namespace
	track_pid "$UNIT_PID"
	_unit_main() { UNIT_MAIN_PID=$(cat "/proc/$UNIT_PID/task/$UNIT_PID/children" 2>/dev/null) && [ -n "$UNIT_MAIN_PID" ]; }
	wait_until 10 _unit_main || fail "the service's process did not start: $(cat "$log")"
	UNIT_MAIN_PID=${UNIT_MAIN_PID%% *}
	track_pid "$UNIT_MAIN_PID"
}

unit_stop() {
	kill -TERM "$UNIT_MAIN_PID"
	wait_exit "$UNIT_PID" 10 || fail "the service did not stop on SIGTERM"
	UNIT_RC=$EXIT_RC # nsenter exits with its child's status
}
