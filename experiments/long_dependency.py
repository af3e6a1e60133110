"""Long-dependency sweep: models x lengths on one synthetic task.

    python -m experiments.long_dependency --task adding --lengths 50 200
    python -m experiments.long_dependency --task adding --seeds 5

What it measures and writes: the docstring of `experiments/_long_dependency.py`,
which holds the sweep (other experiments run it too).
"""

from experiments._long_dependency import Config, main

__all__ = ["Config", "main"]

if __name__ == "__main__":
    main()
