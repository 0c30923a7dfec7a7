#!/bin/sh
# testdeps.sh installs, on Debian or Ubuntu, the programs that some tests
# drive when they are missing: Chromium (the browser tests of the taccuino
# and of the reports) and poppler-utils (the AGP PDF rendered to an image).
# make test runs it first, so that a fresh machine runs the whole suite.
# It never fails the run: without these programs those tests skip, and say
# so in capitals.
set -u
missing=""
if [ -z "${FSECGM_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
	missing="$missing chromium"
fi
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
[ -z "$missing" ] && exit 0

skip() {
	echo "testdeps: $1; not installed:$missing — the tests that need them will SKIP" >&2
	exit 0
}
command -v apt-get >/dev/null 2>&1 || skip "no apt-get (install them with the OS's package manager)"
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		skip "not root and no password-less sudo"
	fi
fi
echo "testdeps: installing$missing from the OS packages" >&2
# Another apt-get (a package install in progress) holds dpkg's lock for a
# while: wait for it rather than skip the browser tests.
lock="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086 # one word per option and package
$sudo apt-get $lock update -qq >/dev/null 2>&1 || skip "apt-get update failed"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get $lock install -y -qq $missing >/dev/null 2>&1 ||
	skip "apt-get install failed"
