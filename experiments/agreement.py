"""The main command: subject-verb agreement across a distractor clause.

    python -m experiments.agreement

Trains GatedLSTM, GatedGRU, keras.layers.LSTM and GRU (chrono-initialised
gate biases, the setting under which they learn this task) and a SimpleRNN
on the agreement task at distances 20, 100 and 200 (up to 10 epochs each;
a run ends once its validation accuracy reaches 0.95, about five standard
errors of 500 sentences past the 0.9 that counts as solved; `--stop-at 0`
trains every epoch), prints a comparison table as it goes, and writes
results/agreement/: results.json, summary.md, agreement_vs_length.png
and gate figures of the trained GatedLSTM at distance 100. On a CPU with
two cores or more it trains two runs at a time, in two processes of one
thread each (`--workers 1`: one at a time). Flags as for
experiments.long_dependency (--inits default chrono adds Keras's default
initialisation).
"""

from experiments._long_dependency import Config, main
from experiments._runner import default_workers

if __name__ == "__main__":
    main(
        defaults=Config(task="agreement", stop_at=0.95),
        description=__doc__.split("\n")[0],
        module="agreement",
        workers=default_workers(),
    )
