"""The bundled sample program: a seeded simulator (:func:`simulate`) and its writer (:func:`write_sample`)."""

from typing import TYPE_CHECKING

from labkit._lazy import lazy_attributes

if TYPE_CHECKING:
    from labkit.sample.simulate import SampleProgram, simulate, to_label_studio, write_sample

__all__ = ["SampleProgram", "simulate", "to_label_studio", "write_sample"]

_WHERE = {
    "SampleProgram": "labkit.sample.simulate",
    "simulate": "labkit.sample.simulate",
    "to_label_studio": "labkit.sample.simulate",
    "write_sample": "labkit.sample.simulate",
}
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
