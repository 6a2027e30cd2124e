"""Reading objects and revisions through the persistent `cat-file --batch` process (no fork)."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.model import PROMPTS_DIR
from workbench.core.revspec import ambiguous, could_be_branch, operators, refs_beside_branch
from workbench.core.versions import PromptRef
from workbench.errors import NotFound
from workbench.vcs.deferred import Deferred
from workbench.vcs.git_commands import literal
from workbench.vcs.git_errors import damage_in
from workbench.vcs.reads import ReadCommands
from workbench.vcs.records import parse_ls_tree


class ObjectCommands(ReadCommands):
    def has_commits(self) -> bool:
        return self._head_commit() is not None

    def require_commits(self) -> None:
        if not self.has_commits():
            raise NotFound(
                "the repository has no commits yet",
                hint="commit your prompts first: `workbench commit prompts -m 'Initial prompts'`",
            )

    def resolve(self, rev: str) -> str:
        """A revision (commit, branch, tag, any git rev expression) -> full commit sha.

        Raises:
            RepoError: unknown revision, or HEAD in an empty repository.
            AmbiguousRevision: a local branch `origin/x` beside the remote-tracking one.
        """
        sha, found = self._commit_of(rev)
        if sha is not None:
            return sha
        hint = "use a commit, branch, tag, <name>@v<N> or environment"
        if found is None or found[1] == "tag":  # nothing, or a tag whose target may be gone
            self._check_named(rev)
        if found is None:
            if rev in ("HEAD", "@") and not self.has_commits():
                self.require_commits()
            raise NotFound(f"unknown revision {rev!r}", hint=hint)
        # there, but not a commit: a tree or a blob (`HEAD^{tree}`, `HEAD:path`), or a tag of one
        final = self._header(f"{found[0]}^{{}}") if found[1] == "tag" else None
        what = f"a tag of a {final[1]}" if final is not None else f"a {found[1]}"
        raise NotFound(f"{rev!r} names {what}, not a commit", hint=hint)

    def try_resolve(self, rev: str) -> str | None:
        """The commit `rev` names, None when git says there is none. A repository git cannot open
        raises git's error (see `GitRunner._cat_file`), and so does a name whose object, or whose
        tag's commit, is gone (`_check_named`: one process, only when the answer is None)."""
        sha, found = self._commit_of(rev)
        if sha is None and (found is None or found[1] == "tag"):
            self._check_named(rev)
        return sha

    def _commit_of(self, rev: str) -> tuple[str | None, tuple[str, str] | None]:
        """(the commit `rev` names or None, the (sha, type) of what it names when that was read).

        In the persistent `cat-file` helper, no process. `rev^{commit}` for a name; a revision
        with a `:` (`:/text`, the newest commit whose message matches; `rev:path`; `:path`) is
        read as it is, then peeled by its object id: the suffix would join the text searched for
        (`:/Triage^{commit}`) or the path. Also when the suffix found nothing, so the object
        `rev` names is never called "not a commit" when it is one.
        """
        if rev.startswith("-"):
            return None, None
        if ":" not in rev:
            sha = self._peel(rev + "^{commit}")
            if sha is not None:
                self._check_not_shadowing(rev)
                return sha, None
        found = self._header(rev)
        if found is None or found[1] not in ("commit", "tag"):
            return None, found
        return (found[0] if found[1] == "commit" else self._peel(f"{found[0]}^{{commit}}")), found

    def branch_commit(self, name: str) -> str | None:
        """What the local branch `name` points at, through the persistent `cat-file` helper (no
        process); None when there is no such branch."""
        return self._peel(f"refs/heads/{name}") if could_be_branch(name) else None

    def tag_target(self, name: str) -> str | None:
        """The object the tag `name` points at, through the persistent `cat-file` helper (no
        process); None when there is no such tag."""
        return self._peel(f"refs/tags/{name}") if could_be_branch(name) else None

    def _check_not_shadowing(self, rev: str) -> None:
        """Git reads a tag `foo` before the branch `foo`, and a local branch `origin/main` before
        the remote-tracking branch (with a warning on its stderr, which nobody sees here): when
        both exist, that is `AmbiguousRevision` (`revspec.refs_beside_branch`), and so is an
        expression on that name (`foo~1`, `revspec.operators`). One cat-file look-up (~0.1 ms)
        per ref that could clash, one more only when such a ref exists."""
        name, suffix = operators(rev)
        for ref, meaning in refs_beside_branch(name):
            if self._peel(ref) is not None and self.branch_commit(name) is not None:
                raise ambiguous(name, meaning, ref, suffix=suffix)

    def read_blob(self, rev: str, path: str) -> bytes | None:
        """The bytes of `path` at commit `rev`, None if the file does not exist there."""
        found = self.read_object(f"{rev}:{path}")
        return found[2] if found is not None and found[1] == "blob" else None

    def read_text(self, rev: str, path: str) -> str | None:
        """The text of `path` at commit `rev`, None if the file does not exist there."""
        data = self.read_blob(rev, path)
        return None if data is None else data.decode("utf-8", "replace")

    def read_blob_text(self, blob: str) -> str | None:
        found = self.read_object(blob)
        if found is None or found[1] != "blob":
            return None
        return found[2].decode("utf-8", "replace")

    def blob_sha(self, rev: str, path: str) -> str | None:
        found = self._header(f"{rev}:{path}")
        return found[0] if found is not None and found[1] == "blob" else None

    def followed_blobs(self, rev: str, paths: Sequence[str]) -> list[tuple[str, int] | None]:
        """(blob id, size) of each path at commit `rev`, a symbolic link inside the repository
        followed to its target as the working copy's open() would (`cat-file --follow-symlinks`);
        None for a path that is not there, not a file, or a link that leaves the repository,
        dangles or loops. One process for all."""
        wanted = [f"{rev}:{path}" for path in paths]
        if not wanted or any("\n" in spec for spec in wanted):
            return [None] * len(wanted)
        out = self._run("cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)", "--follow-symlinks", stdin="\n".join(wanted) + "\n")
        lines = iter(out.splitlines())
        found: list[tuple[str, int] | None] = []
        for line in lines:
            word, _, rest = line.partition(" ")
            if word in ("symlink", "dangling", "loop", "notdir"):  # a second line names the path
                next(lines, None)
            if word in ("symlink", "dangling", "loop", "notdir") or line.endswith(" missing"):
                found.append(None)
                continue
            kind, _, size = rest.partition(" ")
            found.append((word, int(size)) if kind == "blob" else None)
        return found + [None] * (len(wanted) - len(found))

    def missing_objects(self, oids: Sequence[str]) -> set[str]:
        """Of `oids` (full object ids), those this repository does not have, from one `cat-file
        --batch-check` (~5 ms for 3,000)."""
        if not oids:
            return set()
        out = self._run("cat-file", "--batch-check=%(objectname)", stdin="\n".join(oids) + "\n")
        return {line.removesuffix(" missing") for line in out.splitlines() if line.endswith(" missing")}

    def list_prompt_files(self, commit: str) -> list[PromptRef]:
        """Every prompt file at a commit, from one `ls-tree -r -z`, parsed as git writes it."""
        args = ("ls-tree", "-r", "-z", "--full-tree", commit, "--", *literal([PROMPTS_DIR + "/"]))
        return self._read_records(lambda out: parse_ls_tree(out, commit), *args, revs=[commit], reading=f"the prompts at {commit}")

    def list_prompt_files_later(self, commit: str) -> Deferred[list[PromptRef]]:
        """`list_prompt_files` in a process started now (collect with `.result()`)."""
        args = ("ls-tree", "-r", "-z", "--full-tree", commit, "--", *literal([PROMPTS_DIR + "/"]))
        return self._read_later(lambda out: parse_ls_tree(out, commit), *args, revs=[commit], reading=f"the prompts at {commit}")

    def list_files(self, commit: str, folder: str) -> list[str]:
        """Paths of every file under `folder` at a commit (one `ls-tree -r -z --name-only`)."""
        out = self._read("ls-tree", "-r", "-z", "--name-only", "--full-tree", commit, "--", *literal([folder]), revs=[commit], reading=f"{folder} at {commit}")
        return [path for path in out.split("\0") if path]

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        return self._merge_base("--is-ancestor", ancestor, commit)[0] == 0

    def merge_base(self, a: str, b: str) -> str | None:
        status, out = self._merge_base(a, b)
        return out.strip() if status == 0 else None

    def _merge_base(self, *args: str) -> tuple[int, str]:
        """`git merge-base`: exit 1 is its answer ("no", "none"), unless it said it could not read
        a commit on the way (it exits 1 then too); other failures are checked by `_check_read`."""
        status, out, err = self._run_full("merge-base", *args)
        if status != 0 and (status != 1 or damage_in(err)):
            revs = [a for a in args if not a.startswith("-")]
            self._check_read(["merge-base", *args], status, err, revs, "the commits between " + " and ".join(revs))
        return status, out
