#!/usr/bin/env bash
# Publish results/<MATRIX> (leaderboard, tables, CSV, result files) to the `leaderboard` branch of origin; the
# nightly workflow's last step. Safe night after night on a persistent runner: the publishing worktree is a fresh
# temporary folder, removed (and unregistered) on every exit, and worktrees a killed night left registered are
# pruned first, so neither "already exists" nor "missing but already registered worktree" can happen.
# Environment: MATRIX (required), RESULTS (default results), REMOTE (origin), BRANCH (leaderboard),
#   GITHUB_SHA and GITHUB_RUN_ID (for the commit message; the workflow sets them).
set -euo pipefail
: "${MATRIX:?MATRIX is not set}"
REMOTE=${REMOTE:-origin}
BRANCH=${BRANCH:-leaderboard}
src=$(cd "${RESULTS:-results}/$MATRIX" && pwd)
repo=$(git rev-parse --show-toplevel)
sha=${GITHUB_SHA:-$(git rev-parse HEAD)}

git worktree prune  # a folder an earlier, killed night removed but left registered
dir=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/leaderboard-publish.XXXXXX")
orphan=""
cleanup() {
  cd "$repo"
  git worktree remove --force "$dir" 2>/dev/null || rm -rf "$dir"
  git worktree prune
  if [[ -n "$orphan" ]]; then git branch -D --quiet "$orphan" 2>/dev/null || true; fi
}
trap cleanup EXIT

if git fetch --quiet --depth=1 "$REMOTE" "$BRANCH" 2>/dev/null; then
  git worktree add --quiet --detach "$dir" FETCH_HEAD
  cd "$dir"
else
  echo "publish-leaderboard: no $BRANCH branch on $REMOTE yet: this night starts it"
  git worktree add --quiet --detach "$dir" HEAD
  cd "$dir"
  orphan="publish-leaderboard-$$"
  git checkout --quiet --orphan "$orphan"
  git rm -rf --quiet .
fi
rm -rf "results/$MATRIX"
mkdir -p "results/$MATRIX/runs"
cp "$src/LEADERBOARD.md" "$src/LEADERBOARD.html" "$src/tables.tex" "$src/results.csv" "results/$MATRIX/"
cp "$src"/runs/*.json "results/$MATRIX/runs/"
git add --all "results/$MATRIX"
if git rev-parse --verify --quiet HEAD >/dev/null && git diff --cached --quiet; then
  echo "publish-leaderboard: results/$MATRIX is unchanged since the last published night; nothing to push"
  exit 0
fi
git -c user.name="medtl-bench nightly" -c user.email="medtl-bench-nightly@users.noreply.github.com" \
  commit --quiet -m "nightly $MATRIX: ${sha::8} (run ${GITHUB_RUN_ID:-local})"
git push --quiet "$REMOTE" "HEAD:refs/heads/$BRANCH"
echo "publish-leaderboard: pushed results/$MATRIX to $REMOTE $BRANCH ($(git rev-parse --short HEAD))"
