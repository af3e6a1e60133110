"""Which path runs a sequence, and the paths (`sequence`); the one bridge
to Keras's undocumented behaviour (`keras_bridge`). Private: the layers
call it; users see it through `layer.sequence_plan(shape)`."""
