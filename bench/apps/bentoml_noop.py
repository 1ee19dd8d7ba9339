"""(c0) BentoML's own floor: a service with one API that reads the request's records and
answers a constant, no model, no middleware, the project's traffic settings. Served with
`bentoml serve` from source like (c), its p50 is what BentoML's HTTP stack costs per request and
its time to /readyz what BentoML costs to start: the goals print the project's share beyond it.

`bentoml serve bench.apps.bentoml_noop:NoopService` (in the project folder).
"""

from __future__ import annotations

from typing import Any

import bentoml


@bentoml.service(name="bench-noop", traffic={"timeout": 30})
class NoopService:
    """Answers every request with the same empty prediction list."""

    @bentoml.api(route="/predict")
    def predict(self, records: list[Any]) -> dict[str, Any]:
        """The body is parsed and `records` checked to be a list, as BentoML does for any API."""
        return {"predictions": []}
