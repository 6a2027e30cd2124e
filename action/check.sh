#!/usr/bin/env bash
# action.yml, step `check`: run `workbench ci check`, write its Markdown to the job summary,
# and exit with its code (0 passed or nothing changed, 1 invalid file or regression, 2 refused
# by the budget). Runs in the prompt repository (the step's working-directory).
#   INPUT_BASE, INPUT_FAIL_ON_REGRESSION, INPUT_MAX_CALLS, INPUT_MAX_COST, INPUT_ARGS,
#   INPUT_SECRET_NAMES, INPUT_SECRETS (JSON: toJSON(secrets)), INPUT_WORKING_DIRECTORY
set -uo pipefail

# The secrets: only the named ones, exported to this process; the JSON of all of them is
# dropped before the workbench starts, so neither a prompt nor a provider module can read it.
secrets_json="${INPUT_SECRETS:-}"
unset INPUT_SECRETS
read -r -a names <<< "$(printf '%s' "${INPUT_SECRET_NAMES:-}" | tr ',\n\t' '   ')"
if [ "${#names[@]}" -gt 0 ]; then
  for name in "${names[@]}"; do
    if ! [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      echo "::error title=Prompt Workbench::secret-names: '$name' is not a variable name"
      exit 2
    fi
  done
  if [ -n "$secrets_json" ]; then
    while IFS= read -r -d '' pair; do
      export "$pair"
    done < <(printf '%s' "$secrets_json" | python3 -c '
import json, sys
secrets = json.load(sys.stdin) or {}
for name in sys.argv[1:]:
    value = secrets.get(name) if isinstance(secrets, dict) else None
    if isinstance(value, str) and value:
        sys.stdout.write(f"{name}={value}\0")
    else:
        print(f"::warning title=Prompt Workbench::secret {name} is not in the secrets input", file=sys.stderr)
' "${names[@]}")
  fi
  export WORKBENCH_ALLOWED_KEY_ENVS="${WORKBENCH_ALLOWED_KEY_ENVS:-$(IFS=,; printf '%s' "${names[*]}")}"
fi
unset secrets_json

# The base: on a pull request, the remote copy of its base branch (actions/checkout leaves a
# detached merge commit and no local branch); fetched (and the clone unshallowed) when missing.
base="${INPUT_BASE:-}"
if [ -z "$base" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then
  base="origin/$GITHUB_BASE_REF"
  if ! git rev-parse --quiet --verify "$base^{commit}" >/dev/null; then
    if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
      git fetch --quiet --no-tags --unshallow origin || true
    fi
    git fetch --quiet --no-tags origin "+refs/heads/$GITHUB_BASE_REF:refs/remotes/origin/$GITHUB_BASE_REF" || true
  fi
fi

key="$(printf '%s' "${INPUT_WORKING_DIRECTORY:-.}" | tr -c 'A-Za-z0-9._-' '_')"
out="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/prompt-workbench-$key"
mkdir -p "$out"
rm -f "$out/comment.md" "$out/junit.xml" "$out/report.json"
args=(ci check --markdown "$out/comment.md" --junit "$out/junit.xml" --json "$out/report.json")
[ -n "$base" ] && args+=(--base "$base")
[ "${INPUT_FAIL_ON_REGRESSION:-true}" = false ] && args+=(--no-fail-on-regression)
[ -n "${INPUT_MAX_CALLS:-}" ] && args+=(--max-calls "$INPUT_MAX_CALLS")
[ -n "${INPUT_MAX_COST:-}" ] && args+=(--max-cost "$INPUT_MAX_COST")
set -f  # split INPUT_ARGS on spaces, never expand a glob
# shellcheck disable=SC2206
args+=(${INPUT_ARGS:-})
set +f

code=0
workbench "${args[@]}" || code=$?

{
  echo "exit-code=$code"
  echo "out-dir=$out"
  [ -s "$out/comment.md" ] && echo "markdown=$out/comment.md"
  [ -s "$out/junit.xml" ] && echo "junit=$out/junit.xml"
  [ -s "$out/report.json" ] && echo "report=$out/report.json"
} >> "$GITHUB_OUTPUT"
if [ -s "$out/comment.md" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$out/comment.md" >> "$GITHUB_STEP_SUMMARY"
fi
exit "$code"
