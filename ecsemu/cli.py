"""``ecsemu serve``: start the emulator and stop cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from ecsemu import __version__
from ecsemu.app import Emulator
from ecsemu.config import build_parser, config_from_args


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        emulator = Emulator.build(config)
    except OSError as error:
        print(f"ecsemu: cannot listen on {config.host}:{config.port}: {error}", file=sys.stderr)
        return 1

    def stop(signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=emulator.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    state = "in memory (ephemeral)" if config.ephemeral else f"in {config.data_dir}"
    print(
        f"ecsemu {__version__} listening on {emulator.endpoint} — runtime {emulator.runtime.name}, state {state}",
        flush=True,
    )
    try:
        emulator.serve_forever()
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
