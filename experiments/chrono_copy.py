"""Chrono against the standard LSTM on the copy task, in Tallec & Ollivier's
setting as far as a CPU allows.

    python -m experiments.chrono_copy              # 3 seeds, 1000 iterations
    python -m experiments.chrono_copy --iterations 200 --seeds 1

Tallec & Ollivier (2018, "Can recurrent neural networks warp time?",
section 5) train an LSTM with 128 units on the copy task with T = 500
blanks, RMSprop with learning rate 1e-3, and compare Keras-style standard
initialisation (forget bias 1) with chrono initialisation; the memoryless
strategy (predict blanks, then a uniform guess over the 8 symbols) has
cross-entropy 10 ln 8 / (T + 20), and their chrono LSTM goes below it
while the standard one stays on it. Here a GatedLSTM with 128 units is
trained on fresh batches (every batch new, as in the paper's infinite
data), RMSprop 1e-3 (Keras's rho 0.9, no clipping), `--iterations`
minibatches of `--batch-size`, once per seed; every `--eval-every`
iterations the loss on a fixed set of `--eval-size` held-out sequences is
recorded. Chrono draws its timescales up to `--chrono-max` (default 3T/2).

Writes results/chrono_copy/: results.json, summary.md, chrono_copy.png
(loss curves: every seed faint, the mean bold, the baseline dashed).
Resumable: finished runs are kept, an interrupted one starts over.
"""

from experiments._chrono_copy import Config, main

__all__ = ["Config", "main"]

if __name__ == "__main__":
    main()
