from __future__ import annotations

import pandas as pd
import pytest

from sma_response.harmonise.quality import AccountingError, check_accounting, summarise


def test_accounting_identity_violation_is_reported() -> None:
    acc = pd.DataFrame(
        {
            "file": ["f"],
            "table": ["t"],
            "n_in": [5],
            "n_accepted": [1],
            "n_corrected": [1],
            "n_quarantined": [1],
        }
    )
    with pytest.raises(AccountingError, match="f / t"):
        check_accounting(acc)


def test_summary_names_rules_not_values(demo_raw) -> None:
    from sma_response.harmonise.harmonise import harmonise_registry

    out = harmonise_registry(demo_raw, key=b"k")
    text = summarise(
        dataset="demo",
        accounting=out.accounting,
        rejects=out.rejects,
        corrections=out.corrections,
        tables=out.tables,
        digest="0" * 64,
        key_source="development",
    )
    assert "schema:score_in_scale_range" in text
    assert "DEVELOPMENT" in text
    assert "Müller" not in text
    assert "99" not in text.split("Quarantine reasons")[1].split("Corrections")[0].replace(
        "99 ", ""
    )
