#!/usr/bin/env bash
# The action's install step: puts blip on the job's PATH and its path in the step's output `path`.
#
# Downloads blip-VERSION-TARGET.tar.gz for the runner's system and architecture from the release of the
# action's repository tagged vVERSION and checks its SHA-256 against that release's SHA256SUMS; a
# mismatch, or a release without SHA256SUMS, refuses the archive and fails the step. Without an
# archive for that tag (the action used at a branch or a commit), blip is built from the action's
# own checkout with `cargo install --locked`, which is that same ref, but only when no version was
# asked for: an explicit `version` is that release or nothing.
#
# Environment (what GitHub gives a composite action's step, plus action.yml's env):
#   INPUT_VERSION          the `version` input; empty means the action's own ref
#   BLIP_ACTION_REF        github.action_ref; BLIP_ACTION_REPOSITORY github.action_repository
#   GITHUB_ACTION_PATH     the action's checkout; RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP
#   GITHUB_OUTPUT, GITHUB_PATH
#   BLIP_RELEASE_BASE      where releases live, by default
#                          https://github.com/OWNER/REPO/releases/download (tests point it at file://)
set -euo pipefail

fail() {
  echo "blip action: $*" >&2
  exit 2
}

EXE=
case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) TARGET=x86_64-unknown-linux-gnu ;;
  Linux/ARM64) TARGET=aarch64-unknown-linux-gnu ;;
  macOS/X64) TARGET=x86_64-apple-darwin ;;
  macOS/ARM64) TARGET=aarch64-apple-darwin ;;
  Windows/X64) TARGET=x86_64-pc-windows-gnu EXE=.exe ;;
  Linux/* | macOS/*) fail "no blip build for RUNNER_ARCH '${RUNNER_ARCH:-}': blip is released for X64 and ARM64" ;;
  Windows/*) fail "no blip build for RUNNER_ARCH '${RUNNER_ARCH:-}': blip is released for X64 on Windows" ;;
  *) fail "no blip build for RUNNER_OS '${RUNNER_OS:-}': blip is released for Linux, macOS and Windows" ;;
esac

# A runner checks an action out at _actions/OWNER/REPO/REF: the fallback when the context is empty.
ACTION_PATH=${GITHUB_ACTION_PATH:?is not set: run this script as a step of the action}
REF=${BLIP_ACTION_REF:-}
REPOSITORY=${BLIP_ACTION_REPOSITORY:-}
case "$ACTION_PATH" in
  */_actions/*/*/*)
    rest=${ACTION_PATH#*/_actions/}
    IFS=/ read -r owner repo ref _ <<<"$rest"
    REPOSITORY=${REPOSITORY:-$owner/$repo}
    REF=${REF:-$ref}
    ;;
esac

# A tag vX.Y.Z names release vX.Y.Z, whose archives carry X.Y.Z.
REQUESTED=${INPUT_VERSION:-}
TAG=${REQUESTED:-$REF}
case "$TAG" in
  v[0-9]*) ;;
  [0-9]*) TAG=v$TAG ;;
  *) TAG= ;;
esac
if [ -n "$REQUESTED" ] && [ -z "$TAG" ]; then
  fail "version '$REQUESTED' is not a release tag: give one like v0.1.0, or leave it empty for the action's own ref"
fi

DIR=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/blip-install
rm -rf "$DIR"
mkdir -p "$DIR/bin"

installed() {
  "$1" --version >&2
  echo "path=$1" >>"${GITHUB_OUTPUT:-/dev/null}"
  echo "$(dirname "$1")" >>"${GITHUB_PATH:-/dev/null}"
  exit 0
}

if [ -n "$TAG" ]; then
  BASE=${BLIP_RELEASE_BASE:-}
  if [ -z "$BASE" ]; then
    [ -n "$REPOSITORY" ] || fail "cannot tell the action's repository: set BLIP_RELEASE_BASE"
    BASE=https://github.com/$REPOSITORY/releases/download
  fi
  NAME=blip-${TAG#v}-$TARGET
  if curl -fsSL --retry 3 -o "$DIR/$NAME.tar.gz" "$BASE/$TAG/$NAME.tar.gz" 2>"$DIR/curl.log"; then
    curl -fsSL --retry 3 -o "$DIR/SHA256SUMS" "$BASE/$TAG/SHA256SUMS" 2>>"$DIR/curl.log" ||
      fail "release $TAG has $NAME.tar.gz but no SHA256SUMS to check it against: refused"
    want=$(awk -v f="$NAME.tar.gz" '$2 == f || $2 == "*" f { print $1 }' "$DIR/SHA256SUMS")
    [ -n "$want" ] || fail "release $TAG's SHA256SUMS has no line for $NAME.tar.gz: refused"
    got=$(sha256sum "$DIR/$NAME.tar.gz" | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "$NAME.tar.gz has SHA-256 $got, but release $TAG's SHA256SUMS says $want: refused"
    tar -xzf "$DIR/$NAME.tar.gz" -C "$DIR" "$NAME/blip$EXE" || fail "$NAME.tar.gz holds no $NAME/blip$EXE"
    mv "$DIR/$NAME/blip$EXE" "$DIR/bin/blip$EXE"
    installed "$DIR/bin/blip$EXE"
  fi
  if [ -n "$REQUESTED" ]; then
    fail "cannot download $NAME.tar.gz of release $TAG from $BASE: $(tail -n 1 "$DIR/curl.log")"
  fi
  echo "blip action: no $NAME.tar.gz in release $TAG; building blip from the action's checkout" >&2
fi

command -v cargo >/dev/null || fail "no release archive to install and no cargo to build blip with: give version, or install Rust first"
cargo install --locked --quiet --path "$ACTION_PATH" --root "$DIR" || fail "cargo install --path $ACTION_PATH failed (above)"
installed "$DIR/bin/blip$EXE"
