"""The paper's T3DR-HIT data (Elephant objects, S3DIS rooms): the reader and converter (``converter``)."""

from hyperalign.data.t3drhit.converter import convert_t3drhit

__all__ = ["convert_t3drhit"]
