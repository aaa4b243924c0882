#!/usr/bin/env bash
# Builds libfaketime 0.9.12 from Debian's source package into .venv/faketime/ and prints the path of its
# multi-threaded library. Debian 12 ships 0.9.10, whose clock_nanosleep shifts CLOCK_MONOTONIC deadlines by the
# fake offset even with FAKETIME_DONT_FAKE_MONOTONIC=1 (Python's time.sleep() fails with EINVAL), and which
# crashed twice in a uvicorn thread under the 2027-02-28 Tokyo clock. 0.9.12 sleeps on the real monotonic clock.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=0.9.12
sha256=4fc32218697c052adcdc5ee395581f2554ca56d086ac817ced2be0d6f1f8a9fa
url=http://deb.debian.org/debian/pool/main/f/faketime/faketime_${version}.orig.tar.gz
dest=.venv/faketime/libfaketime-$version
lib=$dest/src/libfaketimeMT.so.1
if [ ! -f "$lib" ]; then
  mkdir -p .venv/faketime
  tarball=.venv/faketime/faketime_${version}.orig.tar.gz
  [ -f "$tarball" ] || curl -fsS -m 120 -o "$tarball" "$url" \
    || { echo "libfaketime: cannot download $url" >&2; exit 2; }
  echo "$sha256  $tarball" | sha256sum -c --quiet - \
    || { echo "libfaketime: $tarball does not have sha256 $sha256" >&2; rm -f "$tarball"; exit 2; }
  rm -rf "$dest" && tar -xzf "$tarball" -C .venv/faketime
  make -s -C "$dest/src" libfaketimeMT.so.1 >/dev/null || { echo "libfaketime: build failed in $dest/src" >&2; exit 2; }
fi
echo "$PWD/$lib"
