"""take_rows gives exactly what pandas' boolean .loc gives, for every column kind we store."""

import numpy as np
import pandas as pd
import pytest

from finance_platform.transforms.customers.frames import take_rows


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["a", None, "c", "d", "e"], dtype="str"),
            "segment": pd.Categorical(["S1", "S2", None, "S1", "S3"]),
            "assets": [1.5, np.nan, 3.0, 4.0, 5.0],
            "logins": np.array([1, 2, 3, 4, 5], dtype="int64"),
            "month": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "seen": pd.to_datetime(["2025-01-01", None, "2025-03-01", "2025-04-01", "2025-05-01"]),
            "flag": [True, False, True, False, True],
        },
        index=[10, 11, 12, 13, 14],
    )


def test_boolean_mask_matches_loc(frame):
    mask = np.array([True, True, False, False, True])
    expected = frame.loc[mask].reset_index(drop=True)
    pd.testing.assert_frame_equal(take_rows(frame, mask), expected)


def test_positions_match_iloc_and_empty_selection_keeps_dtypes(frame):
    expected = frame.iloc[[4, 0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(take_rows(frame, np.array([4, 0])), expected)
    empty = take_rows(frame, np.zeros(len(frame), dtype=bool))
    assert len(empty) == 0 and empty.dtypes.to_dict() == frame.dtypes.to_dict()


def test_threaded_selection_gives_the_same_frame(frame, monkeypatch):
    import finance_platform.transforms.customers.frames as frames

    monkeypatch.setattr(frames, "_THREADED_ROWS", 0)
    mask = np.array([False, True, True, False, True])
    pd.testing.assert_frame_equal(take_rows(frame, mask), frame.loc[mask].reset_index(drop=True))
