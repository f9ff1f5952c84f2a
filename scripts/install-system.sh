#!/usr/bin/env bash
# Install the system packages the tests need (Debian), only those whose command is missing.
# `apt-get update` runs once, and only when something has to be installed.
set -euo pipefail

# command → Debian package
declare -A NEEDED=(
    [java]=openjdk-17-jre-headless
    [node]=nodejs
    [npm]=npm
    [redis-server]=redis-server
    [chromium]=chromium
    [/usr/lib/postgresql/15/bin/initdb]=postgresql-15
)
# files → Debian package (no command to look for)
declare -A NEEDED_FILES=(
    [/usr/lib/postgresql/15/lib/plpython3.so]=postgresql-plpython3-15
)

missing=()
for cmd in "${!NEEDED[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
for file in "${!NEEDED_FILES[@]}"; do
    [ -e "$file" ] || missing+=("${NEEDED_FILES[$file]}")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
