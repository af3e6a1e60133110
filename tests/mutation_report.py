"""The mutation-testing section of docs/testing.md, from mutmut's verdicts.

    OMP_NUM_THREADS=1 KERAS_BACKEND=torch python -m mutmut run
    python -m tests.mutation_report          # rewrites docs/testing.md

Reads `python -m mutmut results --all true`, counts the verdicts per
module and lists every surviving mutant with the reason it is accepted
(below, by name) or "gap" when nobody has explained it yet.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
MARKER = "## Mutation scores"

# Survivors that cannot change an observable result (equivalent) or that
# are accepted, matched by name; the first matching pattern wins.
REASONS = {
    r"_gated_rnn\.x__cell_property__mutmut_[1-9]$": (
        "out of mutmut's reach: _cell_property runs when the class is "
        "defined, at import, before a forked worker switches a mutant on; "
        "test_the_layer_shows_its_cells_arguments_read_only fails when the "
        "getter returns None or the docstring is dropped (checked by hand)"
    ),
    r"_gated_rnn\.xǁ(GatedCell|GatedRNN)ǁcall__mutmut_1$": (
        "equivalent: Keras's Layer.__call__ always hands call() a training "
        "value (False or None outside fit), so the default is never read"
    ),
    r"_gated_rnn\.xǁGatedRNNǁ_to_input_order__mutmut_14$": (
        "equivalent: ops.where casts its condition to bool, whatever dtype "
        "the mask was cast to (test_an_integer_mask_marks_the_same_steps_"
        "as_a_boolean_one passes an int mask)"
    ),
    r"_gated_rnn\.xǁGatedRNNǁ_to_input_order__mutmut_34$": (
        'equivalent: float("NAN") is float("nan")'
    ),
    r"_gated_rnn\.xǁGatedCellǁ_per_gate_matmul__mutmut_(35|38|39)$": (
        "equivalent: the masks are one per gate, made from the same gate "
        "tuple, so zip never meets lists of different lengths"
    ),
    r"_gated_rnn\.xǁGatedRNNǁbuild__mutmut_(6|8)$": (
        "equivalent: keras.layers.RNN.build never reads initial_state_shape"
    ),
    r"_gated_rnn\.xǁGatedRNNǁget_config__mutmut_([4-7]|10)$": (
        "equivalent: the cell is made with the layer's trainable and dtype, "
        "so leaving them in the cell's config changes nothing, and the "
        "popped keys are always there"
    ),
    r"_gated_rnn\.xǁGatedCellǁ__init____mutmut_[12]$": (
        "equivalent: every cell class passes its variant, so the base "
        "class's default is never read"
    ),
    r"_gated_rnn\.xǁGatedRNNǁ__init____mutmut_(9[3-5]|99|100)$": (
        "gap in the fast selection only: supports_jit matters on "
        "TensorFlow alone, where test_supports_jit_is_set_as_the_builtin_"
        "sets_it walks 192 configurations against the built-in"
    ),
    r"gated_gru\.xǁGatedGRUCellǁrecover__mutmut_5$": (
        "equivalent: a GRU's projection_has_bias is False, so None is alike "
        "(recur adds the input bias itself, where Keras does)"
    ),
    r"stats\.x_(_valid|saturation_per_unit|class_separation)__mutmut_(3|5)$": (
        "equivalent for float input: only the working precision of a "
        "statistic changes (float32 is there to save memory)"
    ),
    r"stats\.x_gate_summary__mutmut_(10|15)$": (
        'equivalent: float("NAN") is float("nan")'
    ),
    r"stats\.x_saturation_per_unit__mutmut_14$": (
        "equivalent: numpy's reshape takes any negative size as unknown"
    ),
    r"stats\.x_saturation_per_unit__mutmut_28$": (
        "equivalent: no invalid division is reachable (counts are >= 1)"
    ),
    r"gated_(gru|lstm)\.xǁGated\w+Cellǁbuild__mutmut_2$": (
        "equivalent: a cell is built for (batch, features), where index "
        "+1 is index -1"
    ),
    r"gated_gru\.xǁGatedGRUCellǁ_biases__mutmut_(9|13|15|19|21)$": (
        "equivalent: squeezing a (1, 3 * units) row over every size-1 "
        "axis or over axis 0 gives the same vector"
    ),
    r"gated_gru\.xǁGatedGRUCellǁ_biases__mutmut_17$": (
        "gap in the fast selection only: on PyTorch squeezing a size-3u "
        "axis is a no-op and the row broadcasts; TensorFlow and JAX raise, "
        "so the suite's TensorFlow run kills it"
    ),
    r"gated_gru\.xǁGatedGRUCellǁrecur__mutmut_(3|124)$": (
        "equivalent: keras.layers.RNN hands a GRU cell its state as a list"
    ),
    r"initializers\.xǁChronoǁ__call____mutmut_(37|42|49|51)$": (
        "accepted: drawing in float32 and promoting changes the precision"
        " of a float64 bias, not its law (the dtype itself is tested)"
    ),
    r"gate_layout\.x_split_blocks__mutmut_(4|7|14)$": (
        "equivalent: ops.split returns exactly len(names) blocks, so "
        "zip's strict check never fires"
    ),
    r"gated_lstm\.xǁGatedLSTMCellǁbuild__mutmut_48$": (
        "equivalent: the gate kernel is read only by the fgr variant, "
        "which sets it (the others test the variant, not the attribute)"
    ),
    r"gated_gru\.xǁGatedGRUCellǁbuild__mutmut_48$": (
        "equivalent: without use_bias the bias is never read (the cell "
        "tests use_bias)"
    ),
    r"gated_lstm\.\S+_bias_initializer__mutmut_(6|7|8|10|11|12|14|15|16)$": (
        "accepted: Keras passes only dtype, by keyword; without it a "
        "float64 layer's bias is drawn in float32 and cast"
    ),
    r"gated_lstm\.xǁGatedLSTMCellǁ_variant_bias_initializer__mutmut_"
    r"(20|21|27|28|32|33|37|38)$": (
        "accepted: drops the dtype Keras passes by keyword (the *args are "
        "always empty); float32 and mixed-precision weights are float32 "
        "anyway, and a float64 layer's variable casts the value (Ones and "
        "Zeros exactly, random draws as their float32 rounding)"
    ),
    r"_gated_rnn\.x_cut_to_blocks__mutmut_(4|5)$": (
        "accepted: drops the dtype Keras passes by keyword; as for the "
        "variant bias initialiser, only a float64 layer could tell"
    ),
    r"gated_gru\.xǁGatedGRUCellǁrecur__mutmut_(18|19)$": (
        "equivalent: with reset_after=False the candidate's recurrent "
        "block is then projected too, and never read (z and r read their "
        "own blocks; the candidate uses r * h)"
    ),
    r"gated_gru\.xǁGatedGRUCellǁrecur__mutmut_108$": (
        "equivalent: keras.layers.RNN and the engine always hand the cell "
        "its states as a list"
    ),
    r"gated_lstm\.x__affine_scan__mutmut_[1-6]$": (
        "gap: both scans compute the same prefix for a known length (each "
        "is tested against the loop); only a length unknown when the graph "
        "is built, which an eager PyTorch run never has, tells them apart"
    ),
    r"gated_lstm\.x__doubling_affine_scan__mutmut_5$": (
        "equivalent: one more doubling round composes with the identity"
    ),
    r"gated_lstm\.x__doubling_affine_scan__mutmut_26$": (
        "detected: the loop never ends (mutmut's timeout)"
    ),
    r"callbacks\.xǁGatePlotterǁon_epoch_end__mutmut_58$": (
        "equivalent: _draw passes the epoch to TensorBoard only, and a "
        "viewer page never goes there"
    ),
    r"callbacks\.xǁGateRecorderǁ__init____mutmut_(33|34)$": (
        "equivalent: on_epoch_begin sets the epoch before any batch"
    ),
    r"callbacks\.xǁGatePlotterǁ_keep_sample__mutmut_8$": (
        "equivalent: the gates arrive as float32 arrays"
    ),
    r"callbacks\.xǁGatePlotterǁ_keep_sample__mutmut_10$": (
        "equivalent: the gates arrive as float32 arrays"
    ),
    r"callbacks\.xǁGatePlotterǁ_keep_sample__mutmut_17$": (
        "equivalent: numpy's choice reads replace=None as False"
    ),
    r"callbacks\.xǁGatePlotterǁ_keep_sample__mutmut_22$": (
        "equivalent: any fixed seed gives a fixed sample"
    ),
    r"callbacks\.xǁ(GateRecorder|GatePlotter)ǁon_epoch_end__mutmut_"
    r"(5|6|9|10)$": (
        "equivalent in the order Keras calls callbacks: the read key only "
        "lets two callbacks share one read at the same step, and setup's "
        "read at train begin replaces it"
    ),
    r"callbacks\.xǁGateRecorderǁon_train_batch_end__mutmut_(7|8|11|12)$": (
        "equivalent in the order Keras calls callbacks: the read key only "
        "lets two callbacks share one read at the same step, and setup's "
        "read at train begin replaces it"
    ),
    r"callbacks\.x_append_gate_arrays__mutmut_15$": (
        "equivalent: a rewritten archive's copied members keep their own "
        "ZipInfo's compression (writestr), and the new epoch is appended "
        "by a ZipFile opened with ZIP_DEFLATED"
    ),
    r"callbacks\.x_append_gate_arrays__mutmut_(46|49|52)$": (
        "accepted: zip64 matters only for members over 2 GiB"
    ),
    r"callbacks\.xǁ_ProbeReaderǁ__init____mutmut_[34]$": (
        "equivalent: setup sets the fingerprint and the extractor before "
        "any read"
    ),
    r"callbacks\.xǁ_ProbeReaderǁsetup__mutmut_(36|39|42)$": (
        "equivalent: `zip(..., strict=...)` after the numbers of "
        "dimensions were checked equal"
    ),
    r"callbacks\.xǁ_ProbeReaderǁsetup__mutmut_(69|70|73|74)$": (
        "equivalent: the early read's cache key (its model or its label) "
        "is never another read's key"
    ),
    r"callbacks\.xǁ_ProbeReaderǁread__mutmut_([126789]|1[0125])$": (
        "equivalent in the order Keras calls callbacks: the model and the "
        "optimizer step in the cache key tell apart reads of two fits, "
        "which setup's read at every train begin already separates"
    ),
    r"callbacks\.x__fingerprint__mutmut_4$": (
        "accepted: two probes of one shape and the same bytes but "
        "different dtypes (int32 ids, float32 values whose bits coincide) "
        "would share a read"
    ),
    r"callbacks\.xǁGatePlotterǁ__init____mutmut_4[12]$": (
        "equivalent: on_train_begin resets the epochs before any is read, "
        "and None is as false as False"
    ),
    r"callbacks\.xǁGatePlotterǁ(on_epoch_end__mutmut_(22|42)|"
    r"on_train_end__mutmut_(3|13|16)|on_train_begin__mutmut_2[5-8]|"
    r"_draw__mutmut_(19|2[0-8]))$": (
        "gap in the fast selection only: TensorBoard's writer, tag, image "
        "or step, which exist on TensorFlow alone; "
        "test_plotter_sends_every_figure_to_tensorboard checks them there, "
        "and the PyTorch run leaves it out"
    ),
    r"callbacks\.xǁGatePlotterǁ(_draw__mutmut_(35|39)|"
    r"on_train_begin__mutmut_(30|32|37))$": (
        "accepted: a warning's stacklevel only moves the line it names "
        "(inside Keras's callback list)"
    ),
    r"_engine\.x__recover__mutmut_([3-9]|1[0-7])$": (
        "gap in the fast selection only: JAX's fused LSTM returns "
        "go_backwards outputs in input order, and only a JAX run takes this "
        "branch (test_gates_recovered_after_the_kernel checks it on JAX)"
    ),
    r"_engine\.x__kernel__mutmut_86$": (
        "gap in the fast selection only: the kernel's path name is read "
        "by the JAX branch of _recover alone (see above)"
    ),
    r"_engine\.xǁ_Stepǁ__call____mutmut_(1[7-9]|2[0-2])$": (
        "gap in the fast selection only: on PyTorch the inputs are "
        "projected before the loop, so the step never projects; TensorFlow "
        "and JAX take this branch in every equivalence test"
    ),
    r"_engine\.x_accelerator__mutmut_[1-8]$": (
        "gap in the fast selection only: PyTorch has no Keras device list, "
        "so losing it changes nothing there; "
        "test_accelerator_reads_keras_devices_then_the_tensors_device "
        "checks it on TensorFlow and JAX"
    ),
    r"_engine\.x_(run|packed_gates)__mutmut_([1-3]|6)$": (
        "gap in the fast selection only: on PyTorch Keras's own input "
        "check names the wrong feature size first; on JAX "
        "test_wrong_feature_size_is_named needs the engine's check"
    ),
    r"_engine\.x_run__mutmut_(10|1[2-6])$": (
        "accepted: unreachable in the tests; Keras resolves the time "
        "length before `call` in every traced path tried, so the unroll "
        "message is not shown"
    ),
    r"_engine\.x_run__mutmut_(109|11[23])$": (
        "equivalent: the layer has exactly one state variable per state"
    ),
    r"_engine\.xǁ_Stepǁ__call____mutmut_(42|45)$": (
        "equivalent: the step returns one new state per state"
    ),
    r"_engine\.x__kernel__mutmut_13$": (
        "equivalent: input masks come one for all gates or one per gate "
        "(3 or 4), so > 1 and > 2 pick the same lists"
    ),
    r"_engine\.x__kernel__mutmut_(27|35)$": (
        "equivalent: the view's supports_jit is written by the built-in, "
        "never read"
    ),
    r"_engine\.x__kernel__mutmut_(52|58)$": (
        "equivalent: an LSTM view's reset_after is never read, and a GRU "
        "cell has the attribute"
    ),
    r"_engine\.x__kernel__mutmut_63$": (
        "equivalent: without input masks, training is off or the dropout "
        "rate is 0, so the built-in never reads the rate"
    ),
    r"_engine\.x_packed_gates__mutmut_22$": (
        "equivalent: dropout_masks keeps masks only when training is "
        "truthy, and None is not"
    ),
    r"_engine\.x_packed_gates__mutmut_(39|57)$": (
        "equivalent: the kernel branch runs only without a mask (with "
        "gates and a mask, choose never tries the kernel, on every "
        "backend)"
    ),
    r"_engine\.x_packed_gates__mutmut_(40|50)$": (
        "equivalent: extraction draws no dropout masks, so the view's "
        "dropout rate is 0 (and recurrent dropout never reaches the "
        "kernel), and the built-in's training flag changes nothing"
    ),
    r"_engine\.x_packed_gates__mutmut_(73|76|77|78|86|94)$": (
        "equivalent: the stepped loop never tries the kernel and returns "
        "every step's gates whatever `full` says; recovered gates after it "
        "equal stepped ones (1e-5)"
    ),
    r"_engine\.x_accelerator__mutmut_(31|37)$": (
        "equivalent: a PyTorch tensor always has a device, so the "
        "getattr defaults are never used"
    ),
    r"_engine\.x_accelerator__mutmut_4\d$": (
        "gap: the device-string details (the default device type, "
        '"meta", the "cpu" prefix) change nothing on a machine without an '
        "accelerator, where every test runs"
    ),
    r"_engine\.x_accelerator__mutmut_5[0-6]$": (
        "gap in the fast selection only: the Keras device list exists on "
        "TensorFlow and JAX alone, where "
        "test_accelerator_reads_keras_devices_then_the_tensors_device "
        "checks it"
    ),
    r"_engine\.x_builtin_supports_jit__mutmut_\d+$": (
        "gap in the fast selection only: supports_jit matters on "
        "TensorFlow alone, where "
        "test_supports_jit_is_set_as_the_builtin_sets_it walks 192 "
        "configurations against the built-in"
    ),
    r"_engine\.x_choose__mutmut_(5[7-9]|6[01])$": (
        "equivalent: every backend the engine runs on is in PROJECT_BEFORE_LOOP"
    ),
    r"_engine\.x_facts_of__mutmut_34$": (
        "accepted: without the tensor, accelerator() looks where Keras "
        "puts new tensors, which is where the inputs are"
    ),
    r"_engine\.x_dropout_masks__mutmut_12$": (
        "equivalent: step 1 has the shape of step 0, and only the shape is read"
    ),
    r"_engine\.x_(dropout_masks__mutmut_1[46]|_sequence__mutmut_50)$": (
        "accepted: a dtype left to the float32 default; every test input "
        "is float32, and the layer casts again where it multiplies"
    ),
    r"_engine\.x_initial_states__mutmut_(22|24)$": (
        "gap: given initial states are float32 in every test, so their "
        "conversion to a float16 compute dtype is not exercised"
    ),
    r"_engine\.xǁ_Stepǁ__call____mutmut_46$": (
        "equivalent: the step returns one new state per state"
    ),
    r"_engine\.x__sequence__mutmut_(37|46|47)$": (
        'equivalent: None is false like False, and only "zero" is compared'
    ),
    r"_engine\.x__sequence__mutmut_81$": (
        "equivalent in value: Keras's unrolled loop only saves PyTorch "
        "bookkeeping, the numbers are the same"
    ),
    r"_engine\.x__sequence__mutmut_84$": (
        "accepted: the copy of stateful states guards PyTorch's autograd "
        "against in-place updates; the stateful tests pass without it "
        "in this Keras version"
    ),
    r"_engine\.x__sequence__mutmut_(101|118)$": (
        "gap in the fast selection only: the path name is read by the JAX "
        "branch of _recover alone"
    ),
    r"_engine\.x__sequence__mutmut_102$": (
        "equivalent: both are replaced whenever gates are stepped, and "
        "read only then"
    ),
    r"_engine\.x__recover__mutmut_26$": (
        "equivalent: ops.where takes the mask cast to the default float "
        "as its condition too"
    ),
    # extract (measured on the code of 2026-11-26)
    r"extract\.xǁ_PackedGatesǁcall__mutmut_(9|11|26)$": (
        "equivalent: the step mask's dtype on the device; the extractor "
        "reads it with `.astype(bool)` in numpy"
    ),
    r"extract\.xǁ_PackedGatesǁcompute_output_(shape|spec)__mutmut_\d+$": (
        "equivalent: only the symbolic spec of the probe's outputs changes "
        "(its dtype or a dimension); `predict_on_batch` returns the arrays "
        "`call` computed"
    ),
    r"extract\.xǁGateExtractorǁ(__call__|_sync_weights)__mutmut_"
    r"(36|39|48|3|6|7)$": (
        "equivalent: `zip(..., strict=...)` over two sequences that have "
        "the same length by construction"
    ),
    r"extract\.xǁGateExtractorǁ__call____mutmut_28$": (
        "equivalent: numpy stores None as NaN in a float array"
    ),
    r"extract\.(xǁGateExtractorǁ__call__|x_extract_gates)__mutmut_(1|5)$": (
        "equivalent: the default chunk size (64 or 65, or the default "
        "passed on) changes how the probe is cut, not the gates"
    ),
    r"extract\.xǁGateExtractorǁ_run__mutmut_(21|36)$": (
        "equivalent: one chunk concatenated is the chunk itself; every "
        "chunk has the same keys"
    ),
    r"extract\.xǁGateExtractorǁ(__init__|_twin_gates)__mutmut_(7|13|46|49)$": (
        "accepted: the name of the probe model or of a twin layer, which "
        "nobody reads (twins are found by path)"
    ),
    r"extract\.xǁGateExtractorǁ__init____mutmut_20$": (
        "equivalent: an empty string is as false as None where the "
        "missing inputs are tested"
    ),
    r"extract\.xǁ_PackedGatesǁcall__mutmut_13$": (
        "equivalent: the all-true mask made when none came is only read "
        "by `.all()` and joined along the batch axis, whatever its "
        "trailing shape"
    ),
    r"extract\.xǁGateExtractorǁ_twin_gates__mutmut_(10|11|15|16)$": (
        "equivalent: `packed_gates` reads neither `return_sequences` nor "
        "`return_state`"
    ),
}


def verdicts() -> list[tuple[str, str]]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        if ": " in line:
            name, status = line.strip().rsplit(": ", 1)
            rows.append((name, status))
    return rows


def reason(name: str) -> str:
    for pattern, text in REASONS.items():
        if re.search(pattern, name):
            return text
    return "gap: not explained yet"


def change(name: str, width: int = 70) -> str:
    """What the mutant changed: its removed and added lines, shortened."""
    from mutmut.__main__ import find_mutant, get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=find_mutant(name).path)
    sides = {"-": [], "+": []}
    for line in diff.splitlines():
        if line[:1] in sides and line[:3] not in ("---", "+++"):
            sides[line[0]].append(line[1:].strip())

    def short(lines):
        text = " ".join(lines) or "(nothing)"
        return text if len(text) <= width else text[: width - 3] + "..."

    return f"``{short(sides['-'])}`` → ``{short(sides['+'])}``"


def report(rows, diffs=True) -> str:
    counts = collections.defaultdict(collections.Counter)
    survivors = collections.defaultdict(list)
    for name, status in rows:
        module = name.split(".x", 1)[0].removeprefix("keras_gates.")
        counts[module][status] += 1
        if status in ("survived", "timeout"):
            survivors[module].append(name)
    lines = [
        MARKER,
        "",
        "Written by `python -m tests.mutation_report` from `python -m "
        "mutmut results --all true`. Score: mutants detected (killed, timed "
        "out, or explained below as detected) over mutants checked minus "
        "the equivalent and accepted ones.",
        "",
        "| module | mutants | checked | killed | survived | equivalent or "
        "accepted | gaps | score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for module in sorted(counts):
        c = counts[module]
        checked = sum(c.values()) - c["not checked"]
        explained = [reason(n) for n in survivors.get(module, [])]
        equivalent = sum(
            r.startswith(("equivalent", "accepted")) for r in explained
        )
        detected = c["killed"] + sum(
            r.startswith("detected") for r in explained
        )
        gaps = (
            len(explained)
            - equivalent
            - sum(r.startswith("detected") for r in explained)
        )
        denominator = checked - equivalent
        score = f"{100 * detected / denominator:.1f}%" if denominator else "-"
        lines.append(
            f"| {module} | {sum(c.values())} | {checked} | {c['killed']} | "
            f"{c['survived'] + c['timeout']} | {equivalent} | {gaps} | "
            f"{score} |"
        )
    lines += ["", "### Every surviving mutant", ""]
    for module in sorted(m for m in survivors if survivors[m]):
        lines.append(f"**{module}**")
        lines.append("")
        for name in survivors[module]:
            short = name.split(".", 2)[-1]
            shown = f" ({change(name)})" if diffs else ""
            lines.append(f"- `{short}`{shown}: {reason(name)}")
        lines.append("")
    return "\n".join(lines)


def unused_reasons(rows) -> list[str]:
    """REASONS patterns that no surviving mutant matches (stale ones)."""
    survivors = [n for n, s in rows if s in ("survived", "timeout")]
    return [
        pattern
        for pattern in REASONS
        if not any(re.search(pattern, name) for name in survivors)
    ]


def main():
    rows = verdicts()
    text = DOC.read_text()
    head = text.split(MARKER)[0].rstrip() + "\n\n"
    DOC.write_text(head + report(rows))
    print(f"wrote {DOC}")
    for pattern in unused_reasons(rows):
        print(f"no survivor matches {pattern!r}")


if __name__ == "__main__":
    main()
