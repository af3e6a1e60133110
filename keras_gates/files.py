"""Writing files so that an interrupted run never leaves half of one.

Every file the package and its experiments write (gate archives, cached
tokens, figures, results, reports, saved models) goes through
`atomic_path`: the content is written to a temporary name in the target's
folder and renamed over the target only once it is complete, so a crash
leaves the old file or the new one, never a broken one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yields a temporary path next to `path`; renames it to `path` when
    the block ends without an exception, and removes it otherwise.

    Args:
        path: the file to write; its folder is created if missing.
        suffix: ending of the temporary name, for writers that choose the
            format from it (`".png"`, `".keras"`, `".npz"`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix
    )
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file for its owner only; give the result the
        # permissions any new file would get (the process's umask).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> None:
    """Writes `text` to `path` through `atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
