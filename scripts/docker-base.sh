#!/usr/bin/env bash
# A Docker engine and the base image BentoML's Dockerfile names, on a machine with neither.
# A test fixture of this machine, not part of the generated project. Idempotent: installs what
# is missing: starts Debian's dockerd (docker.io) unless an engine answers, builds the stand-in
# `python:3.11-slim` from Debian packages (mmdebstrap) unless that tag exists, and installs
# docker-registry (the reference OCI registry). Needs root. Prints the time of each step.
set -euo pipefail
BASE=python:3.11-slim
ROOTFS_TAG=local/python:3.11-bookworm
STATE=${DOCKER_BASE_STATE:-/var/tmp/docker-base}
mkdir -p "$STATE"

step() { # step NAME COMMAND...: run a command and print how long it took
    local name=$1 start=$SECONDS
    shift
    "$@"
    echo "docker-base: $name took $((SECONDS - start)) s"
}

install() { # install the Debian packages given that are not installed yet
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq && APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null
}

start_engine() { # Debian's engine, unless one already answers (Docker CE, Docker Desktop, ...)
    docker info >/dev/null 2>&1 && return
    command -v dockerd >/dev/null || install docker.io iptables
    setsid dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && return
        sleep 1
    done
    echo "docker-base: dockerd did not answer within 60 s; its log:" >&2
    tail -20 "$STATE/dockerd.log" >&2
    exit 1
}

build_base() {
    docker image inspect "$BASE" >/dev/null 2>&1 && return
    if ! docker image inspect "$ROOTFS_TAG" >/dev/null 2>&1; then
        install mmdebstrap
        mmdebstrap --quiet --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$STATE/rootfs.tar"
        docker import "$STATE/rootfs.tar" "$ROOTFS_TAG" >/dev/null
        rm -f "$STATE/rootfs.tar"
    fi
    local context
    context=$(mktemp -d)
    # The host's CA bundle: package downloads here pass a proxy whose CA is in it.
    cp /etc/ssl/certs/ca-certificates.crt "$context/"
    cat >"$context/Dockerfile" <<DOCKERFILE
FROM $ROOTFS_TAG
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -sf /usr/bin/python3 /usr/local/bin/python && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt UV_NATIVE_TLS=1
CMD ["python3"]
DOCKERFILE
    DOCKER_BUILDKIT=0 docker build -q -t "$BASE" "$context" >/dev/null
    rm -rf "$context"
}

step "starting the Docker engine" start_engine
step "building $BASE" build_base
step "installing docker-registry" install docker-registry
