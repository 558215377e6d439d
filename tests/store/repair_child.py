"""`python -m tests.store.repair_child PAUSE_FILE`: run `store.ensure_vector_index` on the
collection the environment names (StoreSettings), but stop for good right after the repair's
first write to Weaviate (any insert, replace, update or delete), once that write has been
acknowledged: it creates PAUSE_FILE and sleeps, so a test can SIGKILL it at exactly that point.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from typing import Any

import store

WRITES = ("insert", "insert_many", "replace", "update", "delete_by_id", "delete_many")


def pause_after_first_write(data_class: type, pause_file: Path) -> None:
    for name in WRITES:
        write = getattr(data_class, name)

        @functools.wraps(write)
        def paused(*args: Any, __write: Any = write, **kwargs: Any) -> Any:
            result = __write(*args, **kwargs)
            pause_file.write_text("paused after the first write\n")
            time.sleep(3600)
            return result

        setattr(data_class, name, paused)


def main() -> None:
    settings = store.StoreSettings()
    client = store.connect(settings)
    try:
        pause_after_first_write(type(client.collections.get(settings.collection).data), Path(sys.argv[1]))
        check = store.ensure_vector_index(client, settings.collection, settings)
        print(f"repair finished without a write: {len(check.missing)} missing", file=sys.stderr)
    finally:
        client.close()


if __name__ == "__main__":
    main()
