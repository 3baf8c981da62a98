"""Write a new revision from the difference between the models and head (developers).

    python -m nexasync.store.migrations 0003 "what changed"

Autogenerates against a scratch SQLite store brought to head, into versions/ of this
source tree (an editable install). Review what it wrote before committing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from nexasync.store._engine import make_engine
from nexasync.store._migrate import _models_metadata, alembic_config, migrate


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rev_id, message = argv
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            migrate(engine)
            with engine.connect() as conn:
                config = alembic_config(conn, target_metadata=_models_metadata())
                command.revision(config, message=message, rev_id=rev_id, autogenerate=True)
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
