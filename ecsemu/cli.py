"""``ecsemu serve``: start the emulator and stop cleanly on SIGINT/SIGTERM.

Exit statuses: 0 after a clean stop; 2 for a bad option value or an unusable data directory
(one line on stderr naming the option, no traceback); 1 when the port cannot be bound.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from ecsemu import __version__, logs
from ecsemu.app import Emulator
from ecsemu.config import Config, OptionError, build_parser, config_from_args
from ecsemu.runtime.base import ContainerRuntime
from ecsemu.state.files import DataDirectoryError

log = logging.getLogger("ecsemu")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except OptionError as error:
        print(f"ecsemu: error: {error}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format, quiet=config.quiet)
    try:
        emulator = Emulator.build(config)
    except DataDirectoryError as error:
        print(f"ecsemu: error: --data-dir (ECSEMU_DATA_DIR): {error}", file=sys.stderr)
        return 2
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
        left = {} if config.ephemeral else emulator.runtime.observe()
        emulator.close()
        log.info("%s", farewell(config, emulator.runtime, len(left)))
    return 0


def farewell(config: Config, runtime: ContainerRuntime, left: int) -> str:
    """What the stop leaves behind, and how to adopt or remove it."""
    if config.ephemeral:
        return "ecsemu stopped; its state was in memory and its tasks' containers are removed"
    where = f"state kept in {config.data_dir}"
    if not left:
        return f"ecsemu stopped; {where}"
    if runtime.name != "docker":
        return f"ecsemu stopped; {where}: its {left} simulated tasks resume when it starts again"
    namespace = getattr(runtime, "namespace", "")
    again = (
        "a new ecsemu container on the same state volume adopts them"
        if os.environ.get("ECSEMU_IN_CONTAINER") == "1"
        else f"`ecsemu serve --data-dir {config.data_dir}` adopts them"
    )
    return (
        f"ecsemu stopped; {where}. {left} tasks' containers are left running: {again}, or remove them with "
        f"`docker rm -f $(docker ps -aq --filter label=ecsemu.namespace={namespace})`"
    )


if __name__ == "__main__":
    sys.exit(main())
