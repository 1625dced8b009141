"""The tar command lines, kept identical to upstream Freezer's so archives interoperate.

Pure functions: they are unit-tested flag by flag, and the engine only runs
what they return (argv lists, never a shell).
"""

from __future__ import annotations

from freezer_core.errors import ValidationError

DEREFERENCE_FLAGS: dict[str, tuple[str, ...]] = {
    "": (),
    "soft": ("--dereference",),
    "hard": ("--hard-dereference",),
    "all": ("--dereference", "--hard-dereference"),
}
"""``--dereference-symlink`` values: soft follows symlinks, hard stores hard links as
separate files, all does both."""


def dereference_flags(value: str | None) -> tuple[str, ...]:
    """tar flags for a ``dereference_symlink`` option value (None and '' mean none)."""
    try:
        return DEREFERENCE_FLAGS[(value or "").strip().lower()]
    except KeyError:
        raise ValidationError(
            f"invalid --dereference-symlink {value!r}: use one of soft, hard or all"
        ) from None


def backup_argv(
    tar: str,
    *,
    member: str,
    snapshot: str,
    exclude: str | None = None,
    dereference: tuple[str, ...] = (),
) -> list[str]:
    """``tar --create`` writing a plain GNU listed-incremental archive of ``member`` to stdout.

    ``member`` is ``.`` for a directory (run with the directory as cwd) or a
    file's basename (run in its parent).  A basename starting with ``-`` goes
    through ``--add-file`` so tar cannot read it as an option while the member
    name stays the same.
    """
    argv = [
        tar,
        "--create",
        "--warning=none",
        "--no-check-device",
        "--one-file-system",
        "--preserve-permissions",
        "--same-owner",
        "--seek",
        "--ignore-failed-read",
        *dereference,
        f"--listed-incremental={snapshot}",
    ]
    if exclude:
        argv.append(f"--exclude={exclude}")
    argv.append(f"--add-file={member}" if member.startswith("-") else member)
    return argv


def restore_argv(tar: str, target: str, *, list_only: bool = False) -> list[str]:
    """``tar --extract --incremental`` reading an archive from stdin into ``target``.

    ``--incremental`` makes tar delete what a level's dumpdir no longer lists,
    which is how deletions are restored.  ``--read-full-records`` lets the
    larger records read any archive, whatever record size wrote it.
    ``list_only`` (dry run) lists the members instead and writes nothing, so
    no ``--directory`` is needed.
    """
    if list_only:
        return [tar, "--list", "--incremental", "--ignore-zeros", "--warning=none"]
    return [
        tar,
        "--extract",
        "--incremental",
        "--ignore-zeros",
        "--warning=none",
        "--overwrite",
        "--preserve-permissions",
        # 128 KiB reads from the pipe instead of 10 KiB records: a reader of small records
        # wakes the writer for every one (~100,000 hand-offs per GiB between two CPUs)
        "--blocking-factor=256",
        "--read-full-records",
        "--directory",
        target,
    ]
