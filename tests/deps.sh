#!/bin/sh
# make deps: find what drip needs to build and test; as root on Debian,
# install what is missing, otherwise print the exact command and stop.
pkgs=
need() { pkgs="$pkgs $1"; }

for pc in libpq:libpq-dev libcurl:libcurl4-openssl-dev json-c:libjson-c-dev \
	libbsd-overlay:libbsd-dev libcrypto:libssl-dev; do
	pkg-config --exists "${pc%%:*}" 2>/dev/null || need "${pc#*:}"
done
command -v pkg-config >/dev/null 2>&1 || need pkg-config
command -v cc >/dev/null 2>&1 || need gcc
command -v jq >/dev/null 2>&1 || need jq
command -v psql >/dev/null 2>&1 || need postgresql-client
command -v curl >/dev/null 2>&1 || need curl
[ -f /etc/ssl/certs/ca-certificates.crt ] || need ca-certificates
command -v prove >/dev/null 2>&1 || need perl
[ -x /usr/bin/python3 ] || command -v python3 >/dev/null 2>&1 || need python3
command -v mandoc >/dev/null 2>&1 || need mandoc
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need postgresql
[ -f /usr/share/zoneinfo/Europe/Berlin ] || need tzdata
# t0675: a TLS front before the mock, offering HTTP/2 (tests/mock-graph/mock.sh)
command -v nghttpx >/dev/null 2>&1 || [ -x /usr/sbin/nghttpx ] || need nghttp2-proxy
command -v openssl >/dev/null 2>&1 || need openssl
# make fuzz, fuzz-ci: clang with libFuzzer's runtime
command -v clang >/dev/null 2>&1 || need clang
ls "$(clang -print-resource-dir 2>/dev/null)"/lib/linux/libclang_rt.fuzzer-*.a \
	>/dev/null 2>&1 || need libclang-rt-dev
# make check VALGRIND=1
[ -z "${VALGRIND:-}" ] || command -v valgrind >/dev/null 2>&1 || need valgrind

[ -z "$pkgs" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$pkgs" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || exit 1
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $pkgs >&2 || exit 1
	# The package enables and starts an nghttpx service of its own (port
	# 3000); the tests start theirs, so that one goes back off.
	case " $pkgs " in *" nghttp2-proxy "*)
		if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
			systemctl disable --now nghttpx.service >/dev/null 2>&1
		else
			invoke-rc.d nghttpx stop >/dev/null 2>&1
			update-rc.d nghttpx disable >/dev/null 2>&1
		fi ;;
	esac
	exit 0
fi
echo "deps: missing:$pkgs" >&2
echo "deps: run: sudo apt-get install$pkgs" >&2
exit 1
