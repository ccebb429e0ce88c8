# Sourced by interop/run-python.sh and interop/run-flink.sh: a venv built
# from exact pins, again whenever the pins change.
#
#   interop_venv VENV REQUIREMENTS     # uses $PYTHON (default python3)

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

interop_venv() {
	local venv=$1 req=$2 py=${PYTHON:-python3}
	# Debian and Ubuntu ship venv and ensurepip separately (python3-venv).
	if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
		if command -v apt-get >/dev/null; then
			local ver
			ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
			echo "interop: $py has no venv module; installing python3-venv" >&2
			as_root apt-get update -qq
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$ver-venv" ||
				as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
		fi
		"$py" -c 'import venv, ensurepip' || {
			echo "interop: $py cannot create a virtual environment (no venv/ensurepip)" >&2
			return 1
		}
	fi
	# A venv whose interpreter is gone (a removed pyenv version) is rebuilt.
	if [ -e "$venv" ] && ! "$venv/bin/python" -c 'pass' 2>/dev/null; then
		rm -rf "$venv"
	fi
	if [ ! -x "$venv/bin/python" ]; then
		"$py" -m venv "$venv"
	fi
	local want
	want=$(sha256sum "$req" | cut -d' ' -f1)
	if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
		echo "$want" >"$venv/.requirements.sha256"
	fi
}
