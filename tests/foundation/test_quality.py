import pandas as pd

from sage_amazon import quality

SUITE = {
    "id_present": ("ExpectColumnValuesToNotBeNull", {"column": "order_id"}),
    "quantity_positive": ("ExpectColumnValuesToBeBetween", {"column": "quantity", "min_value": 1}),
    "currency_known": ("ExpectColumnValuesToBeInSet", {"column": "currency", "value_set": ["USD", "GBP"]}),
}


def test_a_suite_reports_each_expectation_with_the_offending_values():
    df = pd.DataFrame(
        {
            "order_id": ["111-1", "111-2", None],
            "quantity": [1, 0, 2],
            "currency": ["USD", "XXX", "GBP"],
        }
    )
    results = quality.validate(df, SUITE)
    assert not results["id_present"].passed and results["id_present"].unexpected_count == 1
    assert not results["quantity_positive"].passed and results["quantity_positive"].examples == ("0",)
    assert results["currency_known"].examples == ("XXX",)
    assert round(results["currency_known"].unexpected_percent, 1) == 33.3


def test_clean_and_empty_frames_pass():
    clean = pd.DataFrame({"order_id": ["111-1"], "quantity": [3], "currency": ["GBP"]})
    assert all(r.passed for r in quality.validate(clean, SUITE).values())
    assert all(r.passed for r in quality.validate(clean.iloc[0:0], SUITE).values())
