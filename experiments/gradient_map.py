"""Where the vanishing gradient holds: the article's mechanism, mapped.

    python -m experiments.gradient_map

The article's argument: the gradient reaching step t - k is the gradient
at step t times k Jacobians, each the product of tanh' values and the
recurrent weights, so when those factors stay below 1 it vanishes
geometrically. This measures, on subject-verb agreement with the verb at
T = 400, the gradient reaching input step T - k relative to the last
step, for every k back to the subject, for a SimpleRNN whose recurrent
kernel is orthogonal times a gain (0.5, 0.9, 1.0, 1.1, 1.5) and for
GatedLSTM/GatedGRU with Keras's
and chrono initialisation, at initialisation and after training; and
next to it the factor the argument predicts per step:

- SimpleRNN: the largest singular value of the recurrent kernel times the
  root-mean-square of tanh'(a_t) over units, batch and steps (a_t the
  pre-activation), from a numpy forward pass of the layer's weights;
- GatedLSTM: the geometric mean of the forget gate (the cell's gradient
  is multiplied by f at every step); GatedGRU: of Keras's z (the share of
  the old state kept).

The measured factor per step is exp(slope) of a least-squares line
through log(ratio) against k. Each setting runs once per seed (`--seeds
N`: seeds seed..seed+N-1 change the initial weights and the data order,
on one data set); tables give the mean factor and its 95% t-interval, and
a verdict says the gradient vanishes only when the interval lies below 1.
Writes results/gradient_map/: results.json, summary.md, gradient_map.png,
factors.png.
"""

from experiments._gradient_map import Config, main

__all__ = ["Config", "main"]

if __name__ == "__main__":
    main()
