"""Long-dependency sweep: models x lengths on one synthetic task.

    python -m experiments.long_dependency --task adding --lengths 50 200
    python -m experiments.long_dependency --task adding --seeds 5

Trains each model at each length with the same data and budget, once per
seed (`--seeds N`: seeds seed..seed+N-1 change the initial weights, the
data order and dropout; `--data-seeds` draws a new data set per seed too),
prints a comparison table as it goes, and writes into the output folder
(default results/<task>/): results.json, summary.md, <task>_vs_length.png
(with the task's chance baseline) and, for a GatedLSTM at --figure-length,
gate figures. An interrupted run resumes when started again with the same
folder: finished runs are skipped, the interrupted one continues from its
last epoch (keras.callbacks.BackupAndRestore).
"""

from experiments._long_dependency import Config, main

__all__ = ["Config", "main"]

if __name__ == "__main__":
    main()
