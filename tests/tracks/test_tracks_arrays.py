"""analysis.tracks.arrays converts as pyarrow does (values, nulls, types), without pyarrow's pandas probe."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from analysis.tracks import arrays as A


def _same(a, b):
    """Same type, same nulls, same values (NaN equal to NaN, the sign of a zero kept): Arrow's equals, with NaN."""
    return (
        a.type == b.type
        and a.null_count == b.null_count
        and [repr(v) for v in a.to_pylist()] == [repr(v) for v in b.to_pylist()]
    )


@pytest.mark.parametrize(
    ("values", "typ"),
    [
        (np.arange(7, dtype=np.int64), None),
        (np.arange(7, dtype=np.int64), pa.int64()),
        (np.arange(7, dtype=np.int64), pa.uint32()),
        (np.array([0, 3, 255], np.int64), pa.uint8()),
        (np.array([1.5, np.nan, -0.0, 3e38], np.float32), pa.float32()),
        (np.array([1.5, np.nan, -0.0, 1e300]), pa.float64()),
        (np.array([True, False, True] * 5), None),
        (np.array([True, False, True] * 5), pa.bool_()),
        (np.array([1_704_180_000_000_000, 0], np.int64), pa.timestamp("us", tz="UTC")),
        (np.zeros(0, np.int32), pa.int32()),
        (np.zeros(0, bool), pa.bool_()),
    ],
)
def test_from_numpy_as_pa_array(values, typ):
    assert _same(A.from_numpy(values, typ), pa.array(values, typ))
    mask = np.arange(len(values)) % 3 == 1
    assert _same(A.from_numpy(values, typ, mask=mask), pa.array(values, typ, mask=mask))


def test_from_numpy_refuses_what_does_not_fit():
    with pytest.raises(pa.ArrowInvalid):
        A.from_numpy(np.array([256], np.int64), pa.uint8())
    with pytest.raises(pa.ArrowInvalid):
        A.from_numpy(np.array([-1], np.int64), pa.uint32())
    # masked values need not fit (pyarrow ignores them too)
    assert A.from_numpy(np.array([1, -1]), pa.uint32(), mask=np.array([False, True])).to_pylist() == [1, None]


def test_strings_and_scalars_as_pyarrow():
    vals = ["RSD041", None, "", "Ünïcode", "RSD041"]
    assert A.strings(vals).equals(pa.array(vals, pa.string()))
    assert A.strings([]).equals(pa.array([], pa.string()))
    assert A.strings([None, None]).equals(pa.array([None, None], pa.string()))
    for v, t in [
        ("ground", pa.string()),
        (None, pa.string()),
        (False, pa.bool_()),
        (0, pa.uint8()),
        (-1, pa.int32()),
        (None, pa.float32()),
    ]:
        assert A.scalar(v, t).equals(pa.scalar(v, t))


@pytest.mark.parametrize(
    "arr",
    [
        pa.array(np.arange(10, dtype=np.uint32)),
        pa.array(np.arange(10, dtype=np.int64)).slice(3, 4),
        pa.array([1.0, None, 3.0], pa.float64()),
        pa.array([1.0, None, 3.0, None], pa.float32()).slice(1),
        pa.array([True, False, True, True, False, False, True, True, False, True]).slice(3, 6),
        pa.array([True, None]),  # nulls of booleans: pyarrow's own conversion (objects)
        pa.array([1, None, -7], pa.int32()),  # nulls of integers: float64 with NaN
        pa.array([2**40, None], pa.int64()).slice(1),
        pa.array([3, None], pa.uint8()),
        pa.array([1_704_180_000_000_000], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        pa.chunked_array([pa.array([1, 2], pa.int64()), pa.array([3], pa.int64())]),
        pa.chunked_array([], pa.float64()),
        pa.array([], pa.bool_()),
    ],
)
def test_to_numpy_as_pyarrow(arr):
    got, want = A.to_numpy(arr), arr.to_numpy(zero_copy_only=False)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f")


def test_conversions_load_no_pandas():
    code = (
        "import sys, numpy as np, pyarrow as pa; from analysis.tracks import arrays as A;"
        "a = A.from_numpy(np.arange(3.0), mask=np.array([0, 1, 0], bool)); A.to_numpy(a);"
        "A.to_numpy(A.from_numpy(np.array([True, False]))); A.scalar('x', pa.string()); A.strings(['a', None]);"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
