"""Where the vanishing gradient holds: the article's mechanism, mapped.

    python -m experiments.gradient_map

What it measures and writes: the docstring of `experiments/_gradient_map.py`,
which holds the sweep (other experiments run it too).
"""

from experiments._gradient_map import Config, main

__all__ = ["Config", "main"]

if __name__ == "__main__":
    main()
