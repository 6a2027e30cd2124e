#!/usr/bin/env bash
# action.yml, step `comment`: ONE comment per pull request (and working directory), created
# on the first run and updated on every later one (`gh api` with GH_TOKEN). The comment is
# found by a marker on its first line, among the comments of the token's own account, so a
# comment someone else wrote with the marker is never edited. A failure to post (a pull
# request from a fork gets a read-only token) is a warning: the job summary has the same text.
#   GH_TOKEN, INPUT_COMMENT, INPUT_WORKING_DIRECTORY, PR_NUMBER, MARKDOWN (the file to post)
set -uo pipefail

if [ "${INPUT_COMMENT:-true}" != true ]; then
  echo "comment: off"
  exit 0
fi
if [ -z "${PR_NUMBER:-}" ]; then
  echo "comment: not a pull request, nothing posted (the job summary has the report)"
  exit 0
fi
if [ -n "${GITHUB_SERVER_URL:-}" ] && [ -z "${GH_HOST:-}" ]; then
  export GH_HOST="${GITHUB_SERVER_URL#*://}"  # GitHub Enterprise Server too
fi

key="$(printf '%s' "${INPUT_WORKING_DIRECTORY:-.}" | tr -c 'A-Za-z0-9._/-' '_')"
marker="<!-- prompt-workbench:ci-check $key -->"
body="$(mktemp)"
trap 'rm -f "$body"' EXIT
{
  printf '%s\n' "$marker"
  if [ -n "${MARKDOWN:-}" ] && [ -s "$MARKDOWN" ]; then
    cat "$MARKDOWN"
  else
    printf '## ❌ Prompt Workbench: the check did not finish\n\nSee the log of the job: %s/%s/actions/runs/%s\n' \
      "${GITHUB_SERVER_URL:-https://github.com}" "${GITHUB_REPOSITORY:-}" "${GITHUB_RUN_ID:-}"
  fi
} > "$body"

warn() {
  echo "::warning title=Prompt Workbench::could not post the pull-request comment ($1); the job summary has the report"
  exit 0
}

# GITHUB_TOKEN cannot read /user: its comments are github-actions[bot]'s.
author="$(gh api user 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["login"])' 2>/dev/null)" \
  || author='github-actions[bot]'
[ -n "$author" ] || author='github-actions[bot]'

listing="$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments?per_page=100")" || warn "listing the comments failed"
id="$(printf '%s' "$listing" | python3 -c '
import json, sys
marker, author = sys.argv[1], sys.argv[2]
text, decoder, at = sys.stdin.read(), json.JSONDecoder(), 0
while text[at:].strip():  # --paginate prints one JSON array per page
    at = len(text) - len(text[at:].lstrip())
    page, at = decoder.raw_decode(text, at)
    for comment in page:
        if (comment.get("user") or {}).get("login") == author and (comment.get("body") or "").startswith(marker):
            print(comment["id"])
            sys.exit(0)
' "$marker" "$author")" || warn "the comments could not be read"

if [ -n "$id" ]; then
  reply="$(gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F "body=@$body")" || warn "updating comment $id failed"
  verb=updated
else
  reply="$(gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" -F "body=@$body")" || warn "creating it failed"
  verb=created
fi
url="$(printf '%s' "$reply" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("html_url", ""))' 2>/dev/null || true)"
echo "comment: $verb $url"
echo "url=$url" >> "$GITHUB_OUTPUT"
