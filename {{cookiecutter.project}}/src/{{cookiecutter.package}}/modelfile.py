"""The model file: a scikit-learn Pipeline saved with skops (no pickle), byte-reproducible, and
loaded only after its types are checked. Imports nothing of the training stack, so serving can
use it."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import skops.io as sio

from {{ cookiecutter.package }}.config import MODEL_FILE

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# skops refuses to load types it does not know; these prefixes are the libraries models come from.
# Where skops writes id(obj): an object's "__id__" and the file name of its array.
OBJECT_ID = re.compile(r'(?<="__id__": )\d+|(?<="file": ")\d+(?=\.npy")')
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "_operator.")


def save_model(model: Pipeline, path: Path = MODEL_FILE) -> None:
    """Persist without pickle (skops), so loading cannot run arbitrary code; the same model
    always gives the same bytes, so a re-run of the pipeline leaves dvc.lock unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(reproducible(sio.dumps(model)))


def reproducible(archive: bytes) -> bytes:
    """The skops archive with its object ids (memory addresses) renumbered in order of first
    appearance and its timestamps fixed; loading it gives the same model."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    schema = source.read("schema.json").decode("utf-8")
    numbers: dict[str, str] = {}
    for match in OBJECT_ID.finditer(schema):
        numbers.setdefault(match.group(), str(len(numbers)))
    members = {}
    for name in source.namelist():
        stem, dot, extension = name.partition(".")
        members[numbers.get(stem, stem) + dot + extension] = source.read(name)
    members["schema.json"] = OBJECT_ID.sub(lambda m: numbers[m.group()], schema).encode("utf-8")
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for name, data in sorted(members.items()):
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            target.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return output.getvalue()


def load_model(path: Path = MODEL_FILE) -> Pipeline:
    """Load a model saved by save_model, trusting only types from known libraries."""
    untrusted = sio.get_untrusted_types(file=path)
    unknown = [name for name in untrusted if not name.startswith(TRUSTED_PREFIXES)]
    if unknown:
        raise ValueError(f"{path}: refusing to load unknown types {unknown}")
    return sio.load(path, trusted=untrusted)
