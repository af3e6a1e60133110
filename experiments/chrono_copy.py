"""Chrono against the standard LSTM on the copy task, in Tallec & Ollivier's
setting as far as a CPU allows.

    python -m experiments.chrono_copy              # 3 seeds, 1000 iterations
    python -m experiments.chrono_copy --iterations 200 --seeds 1

What it measures and writes: the docstring of `experiments/_chrono_copy.py`,
which holds the sweep (other experiments run it too).
"""

from experiments._chrono_copy import Config, main

__all__ = ["Config", "main"]

if __name__ == "__main__":
    main()
