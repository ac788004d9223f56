#!/usr/bin/env bash
# Puts the Sandgate server into the extension: bundled/wheels/ holds the sandgate wheel built from this
# repository, every runtime dependency (with the docker and otel extras) at the version requirements.lock
# pins, and pip itself. On first start the extension makes a private virtual environment from them with
# the user's Python, offline (src/bundled.ts).
#
# Pure-Python wheels serve every platform. Three dependencies are compiled (PyYAML, rpds-py,
# charset-normalizer; protobuf is abi3): their wheels are fetched for each Python and platform below, so the
# bundled server runs on Linux x86_64 with CPython 3.11 to 3.14. Elsewhere the extension says so and asks
# for `sandgate.interpreter` (the Python of a `pipx install` or `uv tool install` of Sandgate).
#
#   scripts/bundle-server.sh            (from editor-client/; Python: $SANDGATE_BUNDLE_PYTHON or python3)
#
# Dependency wheels are cached in build/wheel-cache/<hash of the lock>: only the sandgate wheel is rebuilt
# when the lock is unchanged.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(cd "$HERE/.." && pwd)
PYTHON=${SANDGATE_BUNDLE_PYTHON:-python3}
PYTHONS=(3.11 3.12 3.13 3.14)
PLATFORMS=(manylinux2014_x86_64 manylinux_2_28_x86_64)
EXTRAS="docker,otel"
PIP_VERSION=26.3
OUT=$HERE/bundled/wheels

log() { printf '[bundle-server] %s\n' "$*" >&2; }
# The machine's pip configuration (mirrors, constraint files) must not change what is bundled.
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
for v in $(compgen -e | grep "^PIP_" || true); do [[ $v == PIP_CONFIG_FILE || $v == PIP_DISABLE_PIP_VERSION_CHECK || $v == PIP_CERT || $v == PIP_DEFAULT_TIMEOUT ]] || unset "$v"; done
pip() { "$PYTHON" -m pip "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "building the sandgate wheel"
pip wheel --no-deps --quiet -w "$work/sandgate" "$REPO"
wheel=$(ls "$work"/sandgate/sandgate-*.whl)
version=$(basename "$wheel" | cut -d- -f2)

# requirements.lock without its comments: every dependency at the version CI runs.
grep -v '^[[:space:]]*#' "$REPO/requirements.lock" | sed 's/[[:space:]]*#.*//' | grep . >"$work/constraints.txt"
key=$( (cat "$work/constraints.txt"; echo "${PYTHONS[*]} ${PLATFORMS[*]} $EXTRAS $PIP_VERSION"; \
        "$PYTHON" - "$wheel" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    print("\n".join(l for l in z.read(meta).decode().splitlines() if l.startswith("Requires-Dist")))
PY
      ) | sha256sum | cut -c1-16)
cache=$HERE/build/wheel-cache/$key
if [[ ! -f $cache/.complete ]]; then
  rm -rf "$cache"
  mkdir -p "$cache"
  platform_args=()
  for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
  for py in "${PYTHONS[@]}"; do
    tag=cp${py/./}
    log "downloading the dependency wheels for CPython $py (${PLATFORMS[*]})"
    pip download --quiet --only-binary=:all: --implementation cp --python-version "$py" \
      --abi "$tag" --abi abi3 --abi none "${platform_args[@]}" \
      -c "$work/constraints.txt" -d "$cache" "$wheel[$EXTRAS]" "pip==$PIP_VERSION"
  done
  rm -f "$cache"/sandgate-*.whl
  touch "$cache/.complete"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$cache"/*.whl "$OUT"/
cp "$wheel" "$OUT"/
# What the extension reads: which wheel to install, with which extras, for which Pythons and platforms.
"$PYTHON" - "$OUT" "$version" "$EXTRAS" "${PYTHONS[*]}" <<'PY'
import hashlib, json, pathlib, sys
out, version, extras, pythons = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split()
wheels = sorted(p.name for p in out.glob("*.whl"))
digest = hashlib.sha256()
for name in wheels:
    digest.update(name.encode() + b"\0" + (out / name).read_bytes())
manifest = {
    "sandgate": version,
    "requirement": f"sandgate[{extras}]=={version}",
    "pip": next(n for n in wheels if n.startswith("pip-")),
    "pythons": pythons,
    "platforms": ["linux-x64"],
    "digest": digest.hexdigest(),
    "wheels": wheels,
}
(out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
PY
log "$(ls "$OUT"/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1) in $OUT"
