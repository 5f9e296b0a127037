"""Glassbox entry point: `python main.py [MODEL]` opens the GUI, `python main.py VERB ...` the CLI."""

from __future__ import annotations

import sys

CLI_VERBS = {"inspect", "explain", "reproduce", "verify", "keygen"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--glassbox-child"]:  # a frozen bundle re-entering itself (engine/child.py)
        from engine.child import run_child

        return run_child(argv[1:])
    if argv and argv[0] in CLI_VERBS:
        from engine.cli import main as cli_main

        return cli_main(argv)
    import argparse

    parser = argparse.ArgumentParser(prog="glassbox", description="Explain Keras models case by case.")
    parser.add_argument("model", nargs="?", help=".keras, .h5 or SavedModel folder (default: the demo)")
    parser.add_argument("--trust", action="store_true", help="allow unsafe deserialisation of MODEL")
    parser.add_argument("--startup-check", action="store_true", help="print start-up times and quit")
    parser.add_argument("--version", action="store_true", help="print the versions of Glassbox and its libraries")
    args = parser.parse_args(argv)
    if args.version:
        from engine.build_info import version_text

        print(version_text())
        return 0
    from gui.app import run

    return run(args.model, trust=args.trust, startup_check=args.startup_check)


if __name__ == "__main__":
    sys.exit(main())
