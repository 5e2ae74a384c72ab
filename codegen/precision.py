"""Number types per layer (--precision): which weight and activation widths each layer of an
integer build uses. docs/int8.md, "Precision per layer", states the formats.

A precision is a name wXaY: weights X bits, activations Y bits. Available: w8a8 (the int8
scheme of quant.py), w4a8 (int4 weights: per-row symmetric in [-7, 7], packed two per byte;
the same integer arithmetic, so the integer reference is shared), w8a16 (int16 activations,
the CMSIS-NN s16 scheme: symmetric, zero point 0; dense LSTM, GRU, RNN, FastRNN, FastGRNN,
SRU and Linear layers, Conv layers in whole-sequence builds), w4a16 (both: w4a8's int4
weights read by w8a16's int16 activations; the same layers, dense matrices only) and float32
(the layer in float: float weights, state and kernels, between a dequantization of its
int8 / int16 input and a quantization of its outputs with their calibrated parameters;
recurrent layers of any cell and format, Linear and Conv layers). Conv layers take every
precision (docs/int8.md: rnn_conv_s4, rnn_conv_a16, rnn_conv_f32). A new number type adds
its entry here, a Dtype policy, a program class and kernels (docs/extending.md, "Number
types"); the parser, the plan and the CLI do not change.

Spec forms (the CLI's --precision SPEC, a plan's "precision" field):
- "w4a8": every layer;
- "lstm1=w4a8,fc=w8a8": layers by the node names `rnngen inspect` prints; layers not named
  take w8a8, or the one bare name given with them ("w4a8,fc=w8a8");
- a path ending in .toml or .json: {"default": "w8a8", "layers": {"lstm1": "w4a8"}} (TOML:
  default = "w8a8" and a [layers] table); both keys optional.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RnngenError


@dataclass(frozen=True)
class Precision:
    name: str
    weight_bits: int
    act_bits: int
    available: bool
    note: str = ""  # why not available yet


PRECISIONS: dict[str, Precision] = {p.name: p for p in (
    Precision("w8a8", 8, 8, True),
    Precision("w4a8", 4, 8, True),
    Precision("w8a16", 8, 16, True),
    Precision("w4a16", 4, 16, True),
    # a layer in float32 inside an integer model: float weights, state and kernels between a
    # dequantization of its input and a quantization of its outputs (docs/int8.md)
    Precision("float32", 32, 32, True),
)}
DEFAULT = "w8a8"
FLOAT = "float32"


def get(name: str, where: str) -> Precision:
    """The precision called `name`; RnngenError naming `where` when unknown or not
    available yet."""
    p = PRECISIONS.get(name)
    if p is None:
        raise RnngenError(f"{where}: unknown precision {name!r}; expected one of "
                          f"{', '.join(k for k, v in PRECISIONS.items() if v.available)}")
    if not p.available:
        raise RnngenError(f"{where}: precision {name}: {p.note} (available: "
                          f"{', '.join(k for k, v in PRECISIONS.items() if v.available)})")
    return p


@dataclass(frozen=True)
class Plan:
    """The precision of every layer: `default` and the named exceptions."""

    default: str = DEFAULT
    layers: tuple[tuple[str, str], ...] = ()
    source: str = ""  # the spec or file it came from (messages)

    def of(self, node: str) -> Precision:
        return PRECISIONS[dict(self.layers).get(node, self.default)]

    def weight_bits(self, node: str) -> int:
        return self.of(node).weight_bits

    def is_float(self, node: str) -> bool:
        """The layer runs in float32 inside the integer model."""
        return self.of(node).name == FLOAT

    def describe(self) -> str:
        """One line: "w4a8 (every layer)" or "lstm1=w4a8, others w8a8"."""
        if not self.layers:
            return f"{self.default} (every layer)"
        return ", ".join([f"{k}={v}" for k, v in self.layers] + [f"others {self.default}"])

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "layers": dict(self.layers)}


def _plan(default: Any, layers: Any, where: str) -> Plan:
    if not isinstance(default, str):
        raise RnngenError(f"{where}: 'default' must be a precision name (a string)")
    get(default, f"{where}: default")
    if not isinstance(layers, dict):
        raise RnngenError(f"{where}: 'layers' must map layer names to precision names")
    out = []
    for k, v in layers.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise RnngenError(f"{where}: layer {k!r}: expected a layer name and a precision "
                              "name")
        get(v, f"{where}: layer '{k}'")
        out.append((k, v))
    return Plan(default, tuple(out), where)


def from_mapping(d: Any, where: str) -> Plan:
    """A plan from {"default": ..., "layers": {...}} (a file's or a search plan's field)."""
    if isinstance(d, str):
        return parse(d)
    if not isinstance(d, dict):
        raise RnngenError(f"{where}: expected a precision name or an object with 'default' "
                          "and 'layers'")
    extra = set(d) - {"default", "layers"}
    if extra:
        raise RnngenError(f"{where}: unknown key {min(extra)!r} (expected 'default', "
                          "'layers')")
    return _plan(d.get("default", DEFAULT), d.get("layers", {}), where)


def load(path: str) -> Plan:
    """A plan file (.toml or .json)."""
    p = Path(path)
    if not p.is_file():
        raise RnngenError(f"--precision {path}: no such file")
    try:
        if p.suffix == ".toml":
            d: Any = tomllib.loads(p.read_text())
        else:
            d = json.loads(p.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RnngenError(f"{path}: not valid {p.suffix[1:].upper()}: {msg}") from None
    return from_mapping(d, str(path))


def parse(spec: str) -> Plan:
    """--precision SPEC: a precision name, LAYER=NAME,..., or a .toml / .json file."""
    s = spec.strip()
    where = f"--precision {spec}"
    if s.lower().endswith((".toml", ".json")):
        return load(s)
    if not s:
        raise RnngenError("--precision: empty; expected w8a8, w4a8, LAYER=w4a8,... or a "
                          ".toml / .json file")
    layers: dict[str, str] = {}
    default = None
    for part in s.split(","):
        if "=" not in part:  # a bare name: every layer not named
            if default is not None:
                raise RnngenError(f"{where}: two defaults ({default}, {part.strip()})")
            default = part.strip()
            get(default, where)
            continue
        name, eq, prec = (t.strip() for t in part.partition("="))
        if not eq or not name or not prec:
            raise RnngenError(f"{where}: {part.strip()!r} is not LAYER=PRECISION")
        if name in layers:
            raise RnngenError(f"{where}: layer '{name}' is given twice")
        get(prec, f"{where}: layer '{name}'")
        layers[name] = prec
    return Plan(default or DEFAULT, tuple(layers.items()), s)


def check_layers(plan: Plan, weighted: dict[str, str], where: str) -> None:
    """Every named layer exists and has weights (`weighted`: node name -> op)."""
    for name, _ in plan.layers:
        if name not in weighted:
            known = ", ".join(sorted(weighted)) or "none"
            raise RnngenError(f"{where}: --precision names layer '{name}', which is not a "
                              f"layer with weights of this model (those: {known}; `rnngen "
                              "inspect` lists them)")
