#!/bin/sh
# Install what benchmarks/icount needs on a fresh Debian 12 (bookworm) machine, as root, and
# build the QEMU TCG plugin. Idempotent: a second run only rebuilds the plugin if its source
# changed.
#
#   sh benchmarks/icount/setup.sh
#
# - the cross compilers and QEMU (as the project's Makefile installs them);
# - glib headers (libglib2.0-dev) and pkg-config, to compile the plugin;
# - qemu-plugin.h: Debian ships no plugin header, so the QEMU source package is downloaded
#   (a deb-src line for bookworm is added when missing) and only include/qemu/qemu-plugin.h
#   is extracted from it, into benchmarks/icount/include/qemu-<version>/;
# - matplotlib, capstone and pyelftools (pip) for the benchmark scripts.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
PY=${PYTHON:-python3}

need=""
for t in gcc aarch64-linux-gnu-gcc arm-none-eabi-gcc qemu-aarch64 qemu-system-arm pkg-config nm; do
    command -v "$t" >/dev/null 2>&1 || need=1
done
[ -f /usr/include/glib-2.0/glib.h ] || need=1
[ -d /usr/lib/arm-none-eabi/newlib ] || need=1
if [ -n "$need" ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends gcc libc6-dev binutils make \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user gcc-arm-none-eabi \
        libnewlib-arm-none-eabi qemu-system-arm libglib2.0-dev pkg-config dpkg-dev xz-utils
fi

# qemu-plugin.h from the QEMU source package matching the installed qemu-system-arm
QVER=$(dpkg-query -W -f '${source:Version}' qemu-system-arm 2>/dev/null || true)
[ -n "$QVER" ] || QVER=$(dpkg-query -W -f '${source:Version}' qemu-user)
UPVER=$(echo "$QVER" | sed -e 's/^[0-9]*://' -e 's/[-+].*$//')
INC="$HERE/include/qemu-$UPVER"
if [ ! -f "$INC/qemu-plugin.h" ]; then
    if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        cat > /etc/apt/sources.list.d/rnngen-deb-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        apt-get update -qq
    fi
    TMP=$(mktemp -d)
    # the exact source version when apt still has it, else the newest bookworm one
    (cd "$TMP" && (apt-get source -qq --download-only "qemu=$QVER" 2>/dev/null ||
                   apt-get source -qq --download-only qemu))
    ORIG=$(ls "$TMP"/qemu_*.orig.tar.* | head -n 1)
    mkdir -p "$INC"
    tar -xf "$ORIG" -C "$TMP" --wildcards '*/include/qemu/qemu-plugin.h'
    cp "$(find "$TMP" -path '*/include/qemu/qemu-plugin.h' | head -n 1)" "$INC/qemu-plugin.h"
    rm -rf "$TMP"
fi

# the plugin
make -s -C "$HERE" QEMU_INC="$INC"

# Python packages for the benchmark scripts
"$PY" -c 'import matplotlib, capstone, elftools' 2>/dev/null ||
    "$PY" -m pip install -q matplotlib capstone pyelftools
echo "icount ready: $HERE/libicount.so (qemu-plugin.h $UPVER)"
