"""Regenerate the template's example CSV files and starting contracts (run by the template's
maintainers, not by users): `python scripts/make_examples.py`.

The CSV examples are synthetic on purpose: missing values and string categories, so a project
baked with `dataset=csv` trains on real-world mess from its first run.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn import datasets

OPTIONS = Path("{{cookiecutter.project}}/_options")
ROWS = 1500


def churn(rng: np.random.Generator) -> pd.DataFrame:
    """Customer churn: a binary target with string labels."""
    contract = rng.choice(["month-to-month", "one-year", "two-year"], ROWS, p=[0.55, 0.25, 0.2])
    tenure = rng.gamma(2.0, 12.0, ROWS).round()
    charges = rng.normal(70, 25, ROWS).clip(15, 150).round(2)
    calls = rng.poisson(1.5, ROWS)
    payment = rng.choice(["card", "bank transfer", "electronic check", "mailed check"], ROWS)
    region = rng.choice(["north", "south", "east", "west"], ROWS)
    logit = (
        -1.0
        + 1.4 * (contract == "month-to-month")
        - 0.04 * tenure
        + 0.015 * (charges - 70)
        + 0.45 * calls
        + 0.6 * (payment == "electronic check")
    )
    churned = np.where(rng.random(ROWS) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(ROWS)],
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "contract_type": contract,
            "payment_method": payment,
            "region": region,
            "churned": churned,
        }
    )
    frame.loc[rng.random(ROWS) < 0.05, "tenure_months"] = np.nan
    frame.loc[rng.random(ROWS) < 0.04, "payment_method"] = np.nan
    return frame


def houses(rng: np.random.Generator) -> pd.DataFrame:
    """House prices: a numeric target with categorical drivers."""
    area = rng.normal(95, 35, ROWS).clip(25, 300).round(1)
    rooms = (area / 25 + rng.normal(0, 0.8, ROWS)).clip(1, 10).round()
    age = rng.uniform(0, 90, ROWS).round()
    neighborhood = rng.choice(["centre", "harbour", "hills", "suburb", "old town"], ROWS)
    energy = rng.choice(list("ABCDEFG"), ROWS)
    distance = rng.exponential(6, ROWS).round(2)
    premium = pd.Series(neighborhood).map(
        {"centre": 1.35, "harbour": 1.2, "hills": 1.1, "suburb": 0.9, "old town": 1.15}
    )
    price = (
        2800
        * area
        * premium.to_numpy()
        * (1 - 0.002 * age)
        * (1 - 0.015 * distance)
        * (1 + 0.03 * (energy == "A"))
        + rng.normal(0, 20000, ROWS)
    ).round(-2)
    frame = pd.DataFrame(
        {
            "house_id": [f"H{i:05d}" for i in range(ROWS)],
            "area_m2": area,
            "rooms": rooms,
            "age_years": age,
            "distance_center_km": distance,
            "neighborhood": neighborhood,
            "energy_label": energy,
            "price": price,
        }
    )
    frame.loc[rng.random(ROWS) < 0.05, "age_years"] = np.nan
    frame.loc[rng.random(ROWS) < 0.05, "energy_label"] = np.nan
    return frame


def starting_contract(frame: pd.DataFrame, target: str, ids: tuple[str, ...] = ()) -> dict:
    """Names, dtypes and roles: enough for the foundation's checks."""
    columns = {}
    for name, values in frame.items():
        if pd.api.types.is_integer_dtype(values):
            dtype = "int"
        elif pd.api.types.is_numeric_dtype(values):
            dtype = "float"
        else:
            dtype = "str"
        role = "target" if name == target else "id" if name in ids else "feature"
        columns[str(name)] = {"dtype": dtype, "role": role}
    return {"table": {"min_rows": 50}, "columns": columns}


def write_contract(name: str, contract: dict) -> None:
    path = OPTIONS / "contracts" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Data contract for data/raw/dataset.csv: what each column is and must look like.\n"
    path.write_text(header + yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")


def main() -> None:
    rng = np.random.default_rng(20261125)
    (OPTIONS / "data").mkdir(parents=True, exist_ok=True)
    for name, frame, target, ids in (
        ("csv_classification", churn(rng), "churned", ("customer_id",)),
        ("csv_regression", houses(rng), "price", ("house_id",)),
    ):
        frame.to_csv(OPTIONS / "data" / f"{name}.csv", index=False)
        write_contract(name, starting_contract(frame, target, ids))
    for name in ("breast_cancer", "wine", "diabetes"):
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        write_contract(name, starting_contract(frame, "target"))


if __name__ == "__main__":
    main()
