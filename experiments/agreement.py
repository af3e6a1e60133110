"""The main command: subject-verb agreement across a distractor clause.

    python -m experiments.agreement

Trains GatedLSTM, GatedGRU, keras.layers.LSTM and GRU (chrono-initialised
gate biases, the setting under which they learn this task) and a SimpleRNN
on the agreement task at distances 20, 100 and 200, prints a comparison
table as it goes, and writes results/agreement/: results.json, summary.md,
agreement_vs_length.png and gate figures of the trained GatedLSTM at
distance 100. Flags as for experiments.long_dependency (--inits default
chrono adds Keras's default initialisation).
"""

from experiments._long_dependency import Config, main

if __name__ == "__main__":
    main(
        defaults=Config(task="agreement"),
        description=__doc__.split("\n")[0],
        module="agreement",
    )
