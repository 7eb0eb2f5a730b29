"""`python -m node.cli`: the `swarm` command (the guard keeps vLLM's child processes,
which re-import the main module, from running it again)."""

from node.cli import main

if __name__ == "__main__":
    main()
