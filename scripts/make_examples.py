"""Regenerate the template's example CSV files and starting contracts (run by the template's
maintainers, not by users): `make examples`. The contracts come from the generated project's
own inference (`make schema`), reviewed: see write_contract.

The CSV examples are synthetic on purpose: missing values and string categories, so a project
baked with `dataset=csv` trains on real-world mess from its first run.
"""

import importlib
import io
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from sklearn import datasets

TEMPLATE = Path(__file__).resolve().parents[1]
OPTIONS = TEMPLATE / "{{cookiecutter.project}}" / "_options"
ROWS = 1500


def churn(rng: np.random.Generator) -> pd.DataFrame:
    """Customer churn: a binary target with string labels."""
    contract = rng.choice(["month-to-month", "one-year", "two-year"], ROWS, p=[0.55, 0.25, 0.2])
    tenure = rng.gamma(2.0, 12.0, ROWS).round()
    charges = rng.normal(70, 25, ROWS).clip(15, 150).round(2)
    calls = rng.poisson(1.5, ROWS)
    payment = rng.choice(["card", "bank transfer", "electronic check", "mailed check"], ROWS)
    region = rng.choice(["north", "south", "east", "west"], ROWS)
    # Strong enough that a good model clears the gate (roc_auc floor 0.80, accuracy 0.70 in every
    # contract_type slice) with margin: the true churn probabilities rank the rows with a ROC AUC
    # of about 0.93 (the first version of this example had 0.77, so no model could pass).
    logit = (
        -2.4
        + 3.0 * (contract == "month-to-month")
        - 0.12 * tenure
        + 0.04 * (charges - 70)
        + 1.0 * calls
        + 1.2 * (payment == "electronic check")
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


def project_modules() -> tuple[ModuleType, ModuleType]:
    """The platform's contract and inference modules (actions-mlops, installed by `make setup`),
    so the starting contracts come from the same inference `make schema` runs."""
    return importlib.import_module("actions_mlops.data.contract"), importlib.import_module(
        "actions_mlops.data.infer"
    )


def write_contract(
    module: ModuleType,
    infer: ModuleType,
    name: str,
    frame: pd.DataFrame,
    task: str,
    target: str,
    ids: tuple[str, ...] = (),
) -> None:
    """Infer the contract as a project would (`make schema`), then mark it reviewed: the example
    data are fixed, so the maintainers enforce its rules (errors, extra columns fail)."""
    frame = pd.read_csv(io.StringIO(frame.to_csv(index=False)))  # the dtypes a project reads
    inferred = infer.infer_contract(frame, target, task, dict.fromkeys(ids, "id"))
    enforced = {"severity": "error", "inferred": False}
    columns = {n: c.model_copy(update=enforced) for n, c in inferred.columns.items()}
    table = inferred.table.model_copy(update={**enforced, "extra_columns": "fail", "key": ids})
    contract = module.Contract(columns=columns, table=table)
    path = OPTIONS / "contracts" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(module.dump_contract(contract), encoding="utf-8")


def main() -> None:
    rng = np.random.default_rng(20261125)
    (OPTIONS / "data").mkdir(parents=True, exist_ok=True)
    examples = [
        ("csv_classification", churn(rng), "classification", "churned", ("customer_id",)),
        ("csv_regression", houses(rng), "regression", "price", ("house_id",)),
    ]
    for name, frame, *_ in examples:
        frame.to_csv(OPTIONS / "data" / f"{name}.csv", index=False)
    for name, task in (
        ("breast_cancer", "classification"),
        ("wine", "classification"),
        ("diabetes", "regression"),
    ):
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        examples.append((name, frame, task, "target", ()))
    module, infer = project_modules()
    for name, frame, task, target, ids in examples:
        write_contract(module, infer, name, frame, task, target, ids)
    shutil.rmtree(Path(module.__file__).parents[3])


if __name__ == "__main__":
    main()
