#!/usr/bin/env bash
# Installs the system libraries BERG builds against. Idempotent: where everything is present
# it does nothing and says so; it runs `apt-get update` only when something must be installed.
#
#   Tools/install-deps.sh            the libraries
#   Tools/install-deps.sh --slurm    also Slurm and munge for Tools/slurm/local-cluster.sh, and
#                                    hdf5-tools (h5diff) for `make test-slurm`
#   Tools/install-deps.sh --browser  also Chromium (headless) and a font for `make test-browser`
set -euo pipefail

# libdnnl-dev (oneDNN) runs the GEMMs and convolutions with the CPU's widest vectors; without
# it every GEMM falls back to OpenBLAS (Package.swift looks for its header).
packages=(pkg-config libopenblas-dev libdnnl-dev libhdf5-dev libcurl4-openssl-dev libarchive-dev
          libturbojpeg0-dev libpng-dev zlib1g-dev
          libavformat-dev libavcodec-dev libswscale-dev libavutil-dev)
for arg in "$@"; do
    case "$arg" in
        --slurm) packages+=(slurm-wlm munge hdf5-tools) ;;
        --browser) packages+=(chromium fonts-dejavu-core) ;;
        *) echo "usage: $0 [--slurm] [--browser]" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all system packages are present (${packages[*]})"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
