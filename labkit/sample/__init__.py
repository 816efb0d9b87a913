"""The bundled sample program: a seeded simulator (:func:`simulate`) and its writer (:func:`write_sample`)."""

from labkit.sample.simulate import SampleProgram, simulate, to_label_studio, write_sample

__all__ = ["SampleProgram", "simulate", "to_label_studio", "write_sample"]
