# Shared set-up for scripts/demo and scripts/test: a virtualenv in .venv with
# mailintake installed, and the servers the tests talk to. Sourced, not run.

venv_python=".venv/bin/python"

setup_venv() {  # $1: extra to install ("" or "test")
  if [ ! -x "$venv_python" ]; then
    echo "== creating .venv"
    python3 -m venv .venv
  fi
  local spec="."
  [ -n "${1:-}" ] && spec=".[$1]"
  local stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${1:-base}"
  if [ ! -e "$stamp" ]; then
    echo "== installing mailintake and its dependencies into .venv"
    "$venv_python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv_python" -m pip install --quiet --disable-pip-version-check -e "$spec"
    touch "$stamp"
  fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {  # installs Debian packages that are missing
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing ${missing[*]} (Debian packages)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

ensure_postgres() {  # the tests use PostgreSQL on 127.0.0.1:5432 when it can run
  command -v pg_ctlcluster >/dev/null || return 0
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "== starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
}
